"""gunicorn settings for TinyLink, all from the environment.

gunicorn config.wsgi -c deploy/gunicorn.conf.py      (what `make serve` runs)
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The project root on sys.path, so the JSON logger below imports when gunicorn
# is started from another directory.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.cpus import available_cpus  # needs the path above

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The CPUs this process may use (affinity, the container's or unit's CPU
# quota), not the host's: each worker holds up to DATABASE_POOL_MAX
# connections, and a container limited to 1 CPU must not start 8 of them.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * available_cpus() + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Threads only pay off with the threaded worker; with one thread the plain
# sync worker is leaner.
worker_class = "gthread" if threads > 1 else "sync"
# Each thread keeps its pooled PostgreSQL connection between redirects (the
# fast path has no end-of-request to give it back, and taking it anew for
# each cost a quarter of the throughput), and the click flusher holds one
# more: a smaller pool would leave requests waiting for a connection.
_pool_max = int(os.environ.get("DATABASE_POOL_MAX", "10"))
if (
    os.environ.get("DATABASE_URL", "").startswith("postgres")
    and _pool_max < threads + 2
):
    raise SystemExit(
        f"DATABASE_POOL_MAX={_pool_max} is too small for GUNICORN_THREADS="
        f"{threads}: each worker needs at least threads + 2 ({threads + 2})."
    )
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak cannot grow without bound; not
# often: a new worker costs about a second of CPU to import Django, and at
# 10,000 requests a busy server spent a quarter of its CPU on restarts
# (docs/performance.md). Clicks are written before a worker goes.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "100000"))
# Behind a proxy on the same host, trust its X-Forwarded-* headers only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The app already logs one JSON line per request (with request id and user);
# gunicorn's access log, in the same JSON shape, is there for those who want
# it too: GUNICORN_ACCESSLOG=- .
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "opsconsole.logging.GunicornLogger"
# gunicorn's control socket (for `gunicornc`) lives in $HOME/.gunicorn, which
# is read-only under systemd's ProtectSystem=strict and in the image: it
# logged an ERROR on every start. Off unless a writable path is given.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET")
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket
wsgi_app = "config.wsgi:application"

# Prometheus multiprocess mode: every worker writes its counters to files in
# this directory and /metrics sums them. It must be set before any worker
# imports prometheus_client, and emptied at start so that counts of a previous
# run are not added in.
_default_metrics_dir = os.path.join(
    tempfile.gettempdir(), f"tinylink-metrics-{os.getpid()}"
)
metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _default_metrics_dir)


def on_starting(server):
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def post_worker_init(worker):
    # The app is loaded in this worker: say once if the database lacks
    # migrations (the entry point no longer runs them on every start).
    from opsconsole.pending_migrations import log_pending_migrations_in_background

    log_pending_migrations_in_background()


def worker_exit(server, worker):
    # Clicks are buffered per process (links/clickbuffer.py): written before
    # a worker goes, whether stopped, recycled by max_requests or reloaded.
    # Only where the app was loaded: gunicorn's master calls this hook too,
    # for a worker that was already gone, and must not import Django for it.
    clickbuffer = sys.modules.get("links.clickbuffer")
    if clickbuffer is not None:
        clickbuffer.flush_at_exit()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if metrics_dir == _default_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
