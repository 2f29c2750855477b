"""The settings file: environment handling, database tuning, deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.servers import PERSISTENT_DIR

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "k" * 10 + "Zq8#vT2!pL9@xR4$mN7%bW1^cY6&dF3*" + "s" * 20,
    "ALLOWED_HOSTS": "sho.rt",
    "PUBLIC_BASE_URL": "https://sho.rt",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    # Rate limits shared by all gunicorn workers (opsconsole.W004).
    "CACHE_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args, env=None):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set while browser tests run; no deployment
    # has it, and check --deploy rightly complains about it.
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_check_deploy_with_production_settings_is_clean(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        # Not under /tmp (where a checkout may live): that is a warning.
        env={
            **PRODUCTION_ENV,
            "DATABASE_URL": f"sqlite:///{PERSISTENT_DIR / 'check_deploy.db'}",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_flags_development_defaults(tmp_path):
    env = {
        "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
        "DATABASE_URL": f"sqlite:///{tmp_path}/dev.db",
    }
    result = manage("check", "--deploy", env=env)
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


def test_missing_secret_key_stops_start_up_with_a_clear_message(tmp_path):
    result = manage(
        "check",
        env={
            "SECRET_KEY": "",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("status", ["200", "303", "abc"])
def test_invalid_redirect_status_is_a_start_up_error(tmp_path, status):
    result = manage(
        "check",
        env={
            "LINKS_REDIRECT_STATUS": status,
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode != 0
    assert "LINKS_REDIRECT_STATUS" in result.stderr


@pytest.mark.parametrize(
    ("heartbeat", "stale"), [("0", "120"), ("60", "100"), ("15", "abc")]
)
def test_a_stale_threshold_within_two_heartbeats_is_a_start_up_error(
    tmp_path, heartbeat, stale
):
    # One late beat must not make a live worker look dead and expire its run.
    result = manage(
        "check",
        env={
            "OPS_WORKER_HEARTBEAT_SECONDS": heartbeat,
            "OPS_WORKER_STALE_SECONDS": stale,
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode != 0
    assert "OPS_WORKER_" in result.stderr


def trusted_proxies(env, tmp_path):
    return manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(*settings.TRUSTED_PROXIES, end='|')",
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "TRUSTED_PROXIES": "",
            "TRUSTED_PROXY_NETWORKS": "",
            **env,
        },
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}, "10.0.0.0/8 192.0.2.7/32"),
        # The old name is still read, and the new one wins.
        ({"TRUSTED_PROXY_NETWORKS": "10.1.0.0/16"}, "10.1.0.0/16"),
        (
            {"TRUSTED_PROXIES": "10.2.0.0/16", "TRUSTED_PROXY_NETWORKS": "10.1.0.0/16"},
            "10.2.0.0/16",
        ),
        ({}, ""),
    ],
)
def test_trusted_proxies_are_read_as_networks(tmp_path, env, expected):
    result = trusted_proxies(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rpartition("|")[0].rpartition("\n")[2] == expected


def test_a_bad_trusted_proxy_is_a_start_up_error(tmp_path):
    result = trusted_proxies({"TRUSTED_PROXIES": "10.0.0/33"}, tmp_path)
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("seconds", ["0", "-1", "-0.5"])
def test_a_breaker_interval_that_is_not_more_than_0_stops_start_up(tmp_path, seconds):
    result = manage(
        "check",
        env={
            "DATABASE_BREAKER_SECONDS": seconds,
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode != 0
    assert "DATABASE_BREAKER_SECONDS must be more than 0" in result.stderr


def test_unsupported_database_url_is_refused(tmp_path):
    result = manage("check", env={"DATABASE_URL": "mysql://root@localhost/x"})
    assert result.returncode != 0
    assert "DATABASE_URL must be" in result.stderr


def test_tests_never_run_on_in_memory_sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    name = connection.settings_dict["NAME"]
    assert name not in ("", ":memory:")
    assert "mode=memory" not in str(name)
    assert Path(name).is_file()


def test_sqlite_is_tuned_for_a_web_server(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        pragmas = {
            name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "busy_timeout": 10_000,
        "foreign_keys": 1,
    }
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgresql_uses_the_builtin_pool(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert connection.pool is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.slow
def test_redis_cache_url_uses_djangos_backend_and_works(tmp_path):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; from django.core.cache import cache; "
        "cache.set('tinylink-test', 'pong', 30); "
        "print(settings.CACHES['default']['BACKEND'], cache.get('tinylink-test'))",
        env={
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "pong",
    ], result.stderr


def test_health_probes_answer_by_ip_over_http_in_production(client, db, settings):
    """Orchestrators probe by pod IP over plain http."""
    settings.ALLOWED_HOSTS = ["sho.rt"]
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/health", "/health/live", "/health/ready"):
        response = client.get(path, HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200, path
    # Everything else still gets host validation and the https redirect.
    assert client.get("/links/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/links/", HTTP_HOST="sho.rt").status_code == 301


def test_metrics_are_scraped_by_pod_ip_over_http_in_production(client, db, settings):
    """Prometheus scrapes every pod by its IP (counters are per instance),
    over plain http: /metrics must answer there like the probes, still
    guarded by METRICS_ALLOWED_NETWORKS / METRICS_TOKEN."""
    settings.ALLOWED_HOSTS = ["sho.rt"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert b"tinylink_redirects" in response.content
    outsider = client.get(
        "/metrics", HTTP_HOST="10.1.2.3:8000", REMOTE_ADDR="203.0.113.5"
    )
    assert outsider.status_code == 403


@pytest.mark.parametrize("variable", ["LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES"])
def test_a_sign_in_lock_out_without_limit_or_cool_off_is_a_start_up_error(
    tmp_path, variable
):
    # A limit of 0 locks everyone out; a cool-off of 0 never locks anyone.
    result = manage(
        "check", env={variable: "0", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert result.returncode != 0
    assert variable in result.stderr
