"""The health probes, in process, on the database under test."""

import re
import socket
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext

from opsconsole import health, version
from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from tests.opsconsole.helpers import write_backup
from tests.outages import DEAD_REDIS

PROBES = ["/health", "/health/live", "/health/ready", "/health/full"]
LIVE_REDIS_URL = "redis://127.0.0.1:6379/0"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.I)


@pytest.fixture(autouse=True)
def _migrations_never_checked(monkeypatch):
    # The migration check is cached per process; each test starts unchecked.
    monkeypatch.setattr(health, "_migrations", {"checked_at": None, "pending": None})


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.fixture(autouse=True)
def _enough_disk(settings):
    # The disk check compares with the real free space; 0 MB always suffices.
    settings.HEALTH_MIN_FREE_DISK_MB = 0


@pytest.fixture
def unapplied_migration(db):
    """The newest `links` migration recorded as not applied: what the database
    looks like after a deploy whose migrations have not run yet. The check reads
    the same django_migrations table; the test's rollback records it again."""
    graph = MigrationExecutor(connection).loader.graph
    node = max(node for node in graph.leaf_nodes() if node[0] == "links")
    MigrationRecorder(connection).record_unapplied(*node)
    return node


@pytest.fixture
def cache_down(settings):
    # Django's setting_changed handler drops the cache connections, so the
    # next cache access connects to the dead port.
    settings.CACHES = DEAD_REDIS


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_liveness_probes_answer_ok_without_touching_the_database(
    client, db, django_assert_num_queries, path
):
    with django_assert_num_queries(0):
        response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def live_redis(settings):
    """The cache on the real Redis, under a prefix of its own."""
    client = redis.Redis.from_url(LIVE_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {LIVE_REDIS_URL}")
    prefix = f"test-health-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": LIVE_REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield lambda: list(client.scan_iter(match=f"{prefix}:*"))
    client.close()


@pytest.mark.parametrize("path", PROBES)
def test_probes_are_never_cached(client, db, path):
    response = client.get(path)
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "private"} <= directives
    assert "Expires" in response


@pytest.mark.parametrize("path", PROBES)
def test_probes_answer_an_unknown_host_over_plain_http(client, db, settings, path):
    # Orchestrators probe by pod IP and without TLS.
    settings.ALLOWED_HOSTS = ["sho.rt"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(path, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.parametrize("path", PROBES)
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_refuse_unsafe_methods(client, db, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_readiness_is_ok_when_database_and_migrations_are(client, db):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok"},
    }


def test_readiness_is_503_while_a_migration_is_unapplied(client, unapplied_migration):
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "pending"},
    }


def test_migration_check_is_cached_for_its_ttl(settings, unapplied_migration):
    settings.HEALTH_MIGRATIONS_TTL = 300
    app_label, name = unapplied_migration
    MigrationRecorder(connection).record_applied(app_label, name)
    assert health.check_migrations(now=1000.0) == "ok"
    MigrationRecorder(connection).record_unapplied(app_label, name)
    # Within the TTL the first answer stands, without a query.
    with CaptureQueriesContext(connection) as queries:
        assert health.check_migrations(now=1300.0) == "ok"
    assert len(queries) == 0
    assert health.check_migrations(now=1300.5) == "pending"


def test_a_pending_migration_is_looked_at_again_on_every_probe(
    settings, unapplied_migration
):
    # Pods start beside the migrate Job: once it is done they must be ready at
    # the next probe, not up to HEALTH_MIGRATIONS_TTL later (5 minutes out of
    # service, worker by worker). Only "ok" is cached.
    settings.HEALTH_MIGRATIONS_TTL = 300
    app_label, name = unapplied_migration
    assert health.check_migrations(now=1000.0) == "pending"
    assert health.check_migrations(now=1001.0) == "pending"
    MigrationRecorder(connection).record_applied(app_label, name)
    assert health.check_migrations(now=1002.0) == "ok"


def test_full_health_checks_a_real_redis_without_writing_to_it(client, db, live_redis):
    response = client.get("/health/full")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "ok"
    assert live_redis() == []


@pytest.fixture
def hung_cache(settings):
    """A Redis that accepts connections and never answers. Yields a function
    that tells whether anything connected to it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{listener.getsockname()[1]}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    def connected():
        try:
            listener.accept()[0].close()
        except BlockingIOError:
            return False
        return True

    yield connected
    listener.close()


def test_readiness_is_ok_while_the_cache_is_unreachable(client, db, cache_down):
    # Rate limits fail open and redirects keep working without Redis: taking
    # every instance out of service for it would be the outage.
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok"},
    }


def test_readiness_does_not_even_connect_to_a_hung_cache(client, db, hung_cache):
    assert client.get("/health/ready").status_code == 200
    assert not hung_cache()


def test_full_health_is_degraded_when_the_cache_hangs(client, db, hung_cache):
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]["cache"]) == ("degraded", "unavailable")
    assert hung_cache()


def test_full_health_reports_every_check_the_version_and_the_uptime(client, db):
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "status",
        "checks",
        "worker",
        "schedules",
        "overdue_schedules",
        "hints",
        "version",
        "commit",
        "uptime",
    }
    assert set(body["checks"]) == {
        "database",
        "cache",
        "migrations",
        "backups",
        "disk",
        "worker",
        "schedules",
        "storage",
    }
    assert body["version"] == version.VERSION
    assert body["commit"] == version.commit()
    assert re.fullmatch(r"\d+h\d\dm|\d+m\d\ds", body["uptime"])


def test_full_health_without_any_backup_or_worker_is_degraded_but_200(client, db):
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {
        "database": "ok",
        "cache": "ok",
        "migrations": "ok",
        "backups": "missing",
        "disk": "ok",
        "worker": "none",
        "schedules": "ok",
        "storage": "ok",
    }
    assert body["worker"] == {
        "state": "none",
        "heartbeat_age_seconds": None,
        "current_run": None,
    }
    assert body["status"] == "degraded"


def test_full_health_is_healthy_with_a_recent_backup_and_a_live_worker(
    client, db, settings
):
    write_backup(settings.BACKUP_DIR, hours_ago=1)
    WorkerHeartbeat.objects.create(hostname="web-1", pid=42)
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["backups"] == "ok"
    assert body["checks"]["worker"] == "ok"
    assert body["status"] == "healthy"


def test_a_stopped_worker_and_overdue_schedules_make_full_health_degraded(
    client, db, settings, frozen_now
):
    # The worker died hours ago and every schedule waits: this said "healthy".
    settings.OPS_SCHEDULE_GRACE_MINUTES = 60
    write_backup(settings.BACKUP_DIR, hours_ago=1)
    three_hours = timedelta(hours=3)
    run = OpsRun.objects.create(kind="backup", trigger="schedule:backup")
    WorkerHeartbeat.objects.create(
        hostname="web-1", pid=42, seen_at=frozen_now - three_hours, current_run=run
    )
    Schedule.objects.update(next_run_at=frozen_now - three_hours)
    Schedule.objects.filter(kind="maintenance").update(enabled=False)
    body = client.get("/health/full").json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == "stale"
    assert body["checks"]["schedules"] == "overdue"
    assert body["worker"] == {
        "state": "stale",
        "heartbeat_age_seconds": three_hours.total_seconds(),
        "current_run": run.pk,
    }
    assert body["overdue_schedules"] == ["backup", "integrity", "restore_test"]
    assert {schedule["kind"]: schedule for schedule in body["schedules"]}[
        "maintenance"
    ] == {
        "kind": "maintenance",
        "enabled": False,
        "interval_hours": 720,
        "next_run_at": (frozen_now - three_hours).isoformat(),
        "overdue": False,
    }


def test_full_health_is_degraded_when_disk_space_is_low(client, db, settings):
    settings.HEALTH_MIN_FREE_DISK_MB = 2**40  # an exabyte
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["disk"] == "low"
    assert body["status"] == "degraded"


def test_full_health_is_degraded_when_a_migration_is_unapplied(
    client, unapplied_migration
):
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["migrations"] == "pending"
    assert body["status"] == "degraded"


def test_full_health_is_degraded_not_unhealthy_when_the_cache_is_unreachable(
    client, db, cache_down
):
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["cache"] == "unavailable"
    assert body["status"] == "degraded"


@pytest.mark.parametrize("path", ["/health/ready", "/health/full"])
def test_deep_probes_only_read(client, db, django_assert_max_num_queries, path):
    # Twice: the first request checks the migrations, the second uses the
    # cached answer; neither may write.
    for _ in range(2):
        with django_assert_max_num_queries(20) as captured:
            assert client.get(path).status_code == 200
        statements = [query["sql"] for query in captured.captured_queries]
        assert not [sql for sql in statements if WRITES.match(sql)], statements
