# TinyLink production image: gunicorn with deploy/gunicorn.conf.py, the same
# entry point `make serve` runs on a host.
#
# docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t tinylink .
#
# The base is pinned to an exact patch tag. A digest pins it harder (a tag can
# be pushed again), but no registry can be reached where this file was written,
# so the digest could not be looked up. To pin it, run
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and append the "Digest:" it prints: FROM python:3.11.14-slim-bookworm@sha256:…
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    GUNICORN_BIND=0.0.0.0:8000

# PostgreSQL client 18 from the PostgreSQL project's own repository (Debian
# bookworm ships 15): `manage.py backup` runs pg_dump / pg_restore, which must
# be at least as new as the server (opsconsole/engines refuses older ones).
# 18, the newest major, so this image backs up and restores every PostgreSQL
# server from 9.2 up to 18; a server newer than 18 needs a newer client here.
# The repository's signing key is in the repository (deploy/, taken from
# Debian's postgresql-common, fingerprint
# B97B 0AFC AA1A 47F0 44F2  44A0 7FCC 7D46 ACCC 4CF8) and trusted for this one
# source only (signed-by), not for every apt source.
COPY deploy/apt.postgresql.org.asc /usr/share/keyrings/apt.postgresql.org.asc
RUN echo "deb [signed-by=/usr/share/keyrings/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-18 \
    && rm -rf /var/lib/apt/lists/*

# The backup directories exist in the image, owned by the app's user: Docker
# copies a mount point's ownership into a new named volume, and one it has to
# create itself is root's (compose mounts a volume at /data/backups).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tinylink \
    && mkdir -p /data/backups /data/backup-staging && chown -R tinylink /data

WORKDIR /app
# Every package, transitive ones too, at the locked version and hash; --no-deps
# so nothing unlocked slips in (`make lock` regenerates the lock).
COPY requirements.lock .
RUN pip install --require-hashes --no-deps -r requirements.lock

# pyproject.toml holds the version (opsconsole/version.py reads it).
COPY pyproject.toml manage.py ./
COPY config ./config
COPY links ./links
COPY opsconsole ./opsconsole
COPY templates ./templates
COPY static ./static
# Of deploy/ only what the container runs: the env files and Kubernetes
# secrets that operators create beside the examples must never be baked in.
COPY deploy/gunicorn.conf.py deploy/cpus.py deploy/docker-entrypoint.sh ./deploy/

# Static files are collected at build time; the key is used for nothing else.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0

# Last, so that a new commit rebuilds only these layers. /health/full and
# /debug/version show GIT_COMMIT (.git is not in the image); the labels say
# what the image is built from (`docker inspect`). CI passes all three:
#   --build-arg GIT_COMMIT=$(git rev-parse HEAD)
#   --build-arg VERSION=<pyproject.toml's version>
#   --build-arg SOURCE_URL=https://github.com/<owner>/<repository>
ARG GIT_COMMIT=unknown
ARG VERSION=unknown
ARG SOURCE_URL=
ENV GIT_COMMIT=${GIT_COMMIT}
LABEL org.opencontainers.image.title="TinyLink" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}"

USER tinylink
VOLUME ["/data"]
# The standard library only: the image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"
EXPOSE 8000
# The entry point does not migrate unless MIGRATE_ON_START=true: with several
# replicas run `python manage.py migrate --noinput` once, before them.
ENTRYPOINT ["deploy/docker-entrypoint.sh"]
CMD ["gunicorn", "config.wsgi", "-c", "deploy/gunicorn.conf.py"]
