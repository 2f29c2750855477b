"""Health probes. None of them writes; /health and /health/live never touch the
database, so an orchestrator does not restart a healthy process when only the
database is down. /health, /health/live and /health/ready answer anyone (an
orchestrator probes by pod IP); /health/full tells version, commit, backups
and worker, so it answers only whoever may read /metrics. /health/ready never
touches the optional cache."""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from opsconsole import breaker, status, version
from opsconsole.engines import engine_for
from opsconsole.monitoring import monitoring_allowed, monitoring_refused
from opsconsole.pending_migrations import pending_migrations

logger = logging.getLogger("tinylink.health")
_migrations = {"checked_at": None, "pending": None}
# The first damage this process met, until a quick check finds the database
# sound. Per process: a worker that never read a damaged page does not know.
_damage = {"seen": None}
_damage_lock = threading.Lock()
DAMAGE_HINT = (
    "The database is damaged ({problem}): run `manage.py check_integrity` to "
    "see where, then `manage.py restore --latest` (docs/operations.md)."
)


def _ok(body=None, status_code=200):
    response = JsonResponse(body or {"status": "ok"}, status=status_code)
    # A probe's 503 is an answer, not an error: the failing check has been
    # logged once already; django.request would add an ERROR per probe.
    response._has_been_logged = True
    return response


@never_cache
@require_safe
def health(request):
    return _ok()


@never_cache
@require_safe
def live(request):
    return _ok()


def _open_pool(connection):
    """Open the connection's pool if it has one (PostgreSQL). Django opens it
    on the first ORM query of the process, but the probe takes its connection
    from the pool directly (to bound the wait): as the first request of a new
    worker it found the pool not open yet, and a readiness probe that is the
    first request of every worker kept it out of service for good."""
    pool = getattr(connection, "pool", None)
    if pool is not None:
        pool.open()


def check_database():
    """'ok' or 'unavailable': at once while the breaker knows the server is
    down, else from a ping (whose answer may close the breaker)."""
    if breaker.admit() == breaker.OPEN:
        return "unavailable"
    return ping_database()


def ping_database():
    """SELECT 1 within HEALTH_DB_TIMEOUT; its outcome goes to the breaker."""
    engine = engine_for(DEFAULT_DB_ALIAS)
    try:
        _open_pool(connections[DEFAULT_DB_ALIAS])
        engine.ping(timeout=settings.HEALTH_DB_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("health: database check failed: %s", exc)
        # A broken pooled connection must not stay attached to this thread.
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
        breaker.record_failure(exc, engine)
        return "unavailable"
    breaker.record_success()
    return "ok"


def check_migrations(now=None):
    """Pending migrations. An "ok" is kept for HEALTH_MIGRATIONS_TTL s; a
    "pending" is looked at again on every probe, so that an instance that
    started before the release's migrate step finished is ready at the next
    probe after it, not minutes later."""
    now = time.monotonic() if now is None else now
    checked = _migrations["checked_at"]
    fresh = checked is not None and now - checked <= settings.HEALTH_MIGRATIONS_TTL
    if not (fresh and _migrations["pending"] is False):
        try:
            _migrations["pending"] = bool(pending_migrations())
            _migrations["checked_at"] = now
        except Exception as exc:  # noqa: BLE001
            logger.warning("health: migration check failed: %s", exc)
            return "unknown"
    return "pending" if _migrations["pending"] else "ok"


def check_cache():
    try:
        # PING, not a read: a key that anyone with access to Redis could
        # have written is not something an anonymous probe should decode.
        # The local-memory cache has no connection to check.
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, RedisCache):
            backend._cache.get_client().ping()
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: cache check failed: %s", exc)
        return "unavailable"
    return "ok"


def database_damaged(exc):
    """Remembers, for /health/full, an error that says the stored data is
    damaged, and logs the first of them (retries do not help: people must
    act, and one line with the traceback tells them how)."""
    problem = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    with _damage_lock:
        first = _damage["seen"] is None
        if first:
            _damage["seen"] = problem
    if first:
        logging.getLogger("tinylink.unavailable").error(
            DAMAGE_HINT.format(problem=problem),
            exc_info=(type(exc), exc, exc.__traceback__),
        )


def check_storage():
    """('ok', None), or ('damaged', hint) once this process has met damaged
    data and a quick check of the database still finds it. The file is only
    read then (a quick check reads every page): a sound one, restored,
    clears it."""
    problem = _damage["seen"]
    if problem is None:
        return "ok", None
    if engine_for(DEFAULT_DB_ALIAS).damage() is None:
        with _damage_lock:
            _damage["seen"] = None
        logger.warning("health: the database is sound again")
        return "ok", None
    return "damaged", DAMAGE_HINT.format(problem=problem)


@never_cache
@require_safe
def ready(request):
    # Not the cache: without Redis the rate limits fail open and every
    # request is still served, so an instance is ready without it. Taking
    # them all out of service for a cache outage was the outage. The cache
    # is in /health/full.
    checks = {"database": check_database()}
    checks["migrations"] = (
        check_migrations() if checks["database"] == "ok" else "unknown"
    )
    failing = {name: result for name, result in checks.items() if result != "ok"}
    if failing:
        return _ok({"status": "unavailable", "checks": checks}, 503)
    return _ok({"status": "ok", "checks": checks})


def _worker(facts):
    age = facts.worker_age
    return {
        "state": facts.worker_state,
        "heartbeat_age_seconds": None if age is None else age.total_seconds(),
        "current_run": facts.worker.current_run_id if facts.worker else None,
    }


def _schedules(facts):
    return [
        {
            "kind": schedule.kind,
            "enabled": schedule.enabled,
            "interval_hours": schedule.interval_hours,
            "next_run_at": schedule.next_run_at.isoformat()
            if schedule.next_run_at
            else None,
            "overdue": schedule in facts.overdue,
        }
        for schedule in facts.schedules
    ]


@never_cache
@require_safe
def full(request):
    if not monitoring_allowed(request):
        return monitoring_refused(
            request,
            "The full health report is only served to allowed networks or with "
            "the metrics token.",
        )
    checks = {"database": check_database(), "cache": check_cache()}
    database = checks["database"] == "ok"
    checks["migrations"] = check_migrations() if database else "unknown"
    # The backups from the backup directory: right while the database is
    # down, and after a restore has rewound the run history.
    facts = status.read_facts(database=database)
    checks["backups"] = facts.backup_state
    checks["disk"] = status.disk_status()
    checks["worker"] = facts.worker_state
    checks["schedules"] = facts.schedules_state
    checks["storage"], hint = check_storage()
    if checks["database"] != "ok":
        overall = "unhealthy"
    elif any(value != "ok" for value in checks.values()):
        overall = "degraded"
    else:
        overall = "healthy"
    body = {
        "status": overall,
        "checks": checks,
        "worker": _worker(facts),
        "schedules": _schedules(facts),
        "overdue_schedules": [schedule.kind for schedule in facts.overdue],
        "hints": [hint] if hint else [],
        "version": version.VERSION,
        "commit": version.commit(),
        "uptime": version.format_uptime(version.uptime_seconds()),
    }
    return _ok(body, 503 if overall == "unhealthy" else 200)
