# TinyLink production image: gunicorn with deploy/gunicorn.conf.py, the same
# entry point `make serve` runs on a host.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    GUNICORN_BIND=0.0.0.0:8000

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tinylink \
    && mkdir -p /data && chown tinylink /data

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY manage.py ./
COPY config ./config
COPY links ./links
COPY opsconsole ./opsconsole
COPY templates ./templates
COPY static ./static
COPY deploy ./deploy

# Static files are collected at build time; the key is used for nothing else.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0

USER tinylink
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"
EXPOSE 8000
ENTRYPOINT ["deploy/docker-entrypoint.sh"]
CMD ["gunicorn", "config.wsgi", "-c", "deploy/gunicorn.conf.py"]
