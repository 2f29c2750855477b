"""The opsconsole system checks: each fires in its situation and not otherwise.

In process through run_checks (so registration and tags are covered too), from
a sound configuration that raises nothing; then `manage.py check --deploy` in
a subprocess, configured only through the environment as in production.
"""

import ipaddress
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.checks import run_checks

from opsconsole.engines.sqlite import SQLiteEngine
from tests.servers import PERSISTENT_DIR, ROOT

LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "checks",
    }
}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    }
}
# Settings the environment configures, removed from the subprocesses' inherited
# environment so that each run says exactly what it means.
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "DATA_DIR",
    "DJANGO_DEBUG",
    "SECRET_KEY",
    "BACKUP_DIR",
    "METRICS_ALLOWED_NETWORKS",
    "METRICS_TOKEN",
    "CACHE_URL",
    "RATE_LIMIT_WRITES",
    "RATE_LIMIT_REDIRECTS",
    "WEB_CONCURRENCY",
    "PROMETHEUS_MULTIPROC_DIR",
    # Set while the browser tests run (Playwright); a deployment never has it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def strong_key():
    # What `make run` writes. Not Django's get_random_secret_key(): one key in
    # fifty starts with "$", which django-environ reads as a reference to
    # another variable.
    return secrets.token_urlsafe(50)


@pytest.fixture(autouse=True)
def sound_configuration(settings, monkeypatch, tmp_path):
    settings.DEBUG = False
    settings.SECRET_KEY = strong_key()
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    ]
    settings.METRICS_TOKEN = ""
    settings.LINKS_REDIRECT_STATUS = 302
    settings.CACHES = LOCMEM
    settings.RATE_LIMIT_WRITES = "60/minute"
    settings.RATE_LIMIT_REDIRECTS = ""
    # One worker: rate limits in a per-process cache are then sound (W004).
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def check_ids():
    messages = run_checks(tags=["opsconsole"], include_deployment_checks=True)
    # W001 reads where the test database lives, which is wherever the checkout
    # is (CI may clone under /tmp); it is checked end to end in a subprocess
    # with a chosen DATABASE_URL below.
    return sorted(message.id for message in messages if message.id != "opsconsole.W001")


def test_a_sound_configuration_raises_nothing():
    assert check_ids() == []


# --- E001 BACKUP_DIR ------------------------------------------------------------------


def test_a_backup_dir_that_is_a_file_is_an_error(settings, tmp_path):
    path = tmp_path / "backups"
    path.write_text("not a directory")
    settings.BACKUP_DIR = path
    assert check_ids() == ["opsconsole.E001"]


def test_a_backup_dir_that_cannot_be_created_is_an_error(settings):
    settings.BACKUP_DIR = Path("/proc/tinylink-backups")
    assert check_ids() == ["opsconsole.E001"]


def test_a_missing_backup_dir_is_created_rather_than_reported(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "new" / "backups"
    assert check_ids() == []
    assert settings.BACKUP_DIR.is_dir()


def test_with_a_bucket_for_a_store_only_the_staging_dir_is_checked(settings, tmp_path):
    settings.BACKUP_DIR = Path("/proc/tinylink-backups")
    settings.BACKUP_STORE_URL = "s3://bucket/backups"
    assert check_ids() == []
    settings.BACKUP_STAGING_DIR = Path("/proc/tinylink-staging")
    assert check_ids() == ["opsconsole.E001"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any directory")
def test_a_read_only_backup_dir_is_an_error(settings, tmp_path):
    path = tmp_path / "backups"
    path.mkdir(mode=0o555)
    settings.BACKUP_DIR = path
    assert check_ids() == ["opsconsole.E001"]


# --- W001 SQLite on a temporary path --------------------------------------------------
# The check itself reads the live connection's path; it is run end to end by
# `manage.py check` below. Here: which paths count as temporary.


@pytest.mark.parametrize(
    ("path", "temporary"),
    [
        ("/tmp/app.db", True),  # noqa: S108 - only compared
        ("/var/tmp/app.db", True),  # noqa: S108 - only compared
        ("/dev/shm/app.db", True),  # noqa: S108 - only compared
        ("/tmpdata/app.db", False),  # noqa: S108 - only compared
        ("/srv/tinylink/tmp/app.db", False),
        (str(PERSISTENT_DIR / "app.db"), False),
    ],
)
def test_temporary_sqlite_paths_are_recognised(path, temporary):
    engine = SQLiteEngine(SimpleNamespace(settings_dict={"NAME": path}))
    assert engine.is_temporary_path() is temporary


def test_a_symlink_in_tmp_to_persistent_storage_is_not_temporary(tmp_path):
    link = tmp_path / "app.db"
    link.symlink_to(PERSISTENT_DIR / "app.db")
    engine = SQLiteEngine(SimpleNamespace(settings_dict={"NAME": str(link)}))
    assert engine.is_temporary_path() is False


# --- W002 SECRET_KEY ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        strong_key()[:49],
        "ab" * 40,
        "django-insecure-" + strong_key(),
        "insecure-" + strong_key(),
    ],
    ids=["49-chars", "repetitive", "django-insecure", "insecure"],
)
def test_a_weak_secret_key_is_a_warning(settings, key):
    settings.SECRET_KEY = key
    assert check_ids() == ["opsconsole.W002"]


def test_a_weak_secret_key_is_fine_in_debug(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = "short"
    assert check_ids() == []


# --- W003 /metrics open to the world --------------------------------------------------


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0"])
def test_metrics_open_to_the_world_without_a_token_is_a_warning(settings, network):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(network)]
    assert check_ids() == ["opsconsole.W003"]


def test_metrics_open_to_the_world_with_a_token_is_fine(settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("0.0.0.0/0")]
    settings.METRICS_TOKEN = strong_key()
    assert check_ids() == []


def test_metrics_open_to_a_private_network_is_fine(settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert check_ids() == []


# --- E002 LINKS_REDIRECT_STATUS -------------------------------------------------------


@pytest.mark.parametrize("status", [200, 303, 304])
def test_a_redirect_status_that_is_no_permanent_or_temporary_redirect_is_an_error(
    settings, status
):
    settings.LINKS_REDIRECT_STATUS = status
    assert check_ids() == ["opsconsole.E002"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_the_four_redirect_statuses_are_fine(settings, status):
    settings.LINKS_REDIRECT_STATUS = status
    assert check_ids() == []


# --- W004 rate limits in a per-process cache ------------------------------------------


def test_rate_limits_in_locmem_with_several_workers_are_a_warning(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert check_ids() == ["opsconsole.W004"]


def test_redirect_rate_limit_alone_in_locmem_with_several_workers_is_a_warning(
    settings, monkeypatch
):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    settings.RATE_LIMIT_WRITES = ""
    settings.RATE_LIMIT_REDIRECTS = "100/minute"
    assert check_ids() == ["opsconsole.W004"]


@pytest.mark.parametrize(
    ("workers", "caches", "writes"),
    [
        ("1", LOCMEM, "60/minute"),
        ("3", REDIS, "60/minute"),
        ("3", LOCMEM, ""),
    ],
    ids=["one-worker", "redis", "no-limits"],
)
def test_rate_limits_shared_or_single_process_are_fine(
    settings, monkeypatch, workers, caches, writes
):
    monkeypatch.setenv("WEB_CONCURRENCY", workers)
    settings.CACHES = caches
    settings.RATE_LIMIT_WRITES = writes
    assert check_ids() == []


def test_rate_limits_in_locmem_under_gunicorns_default_workers_are_a_warning(
    monkeypatch,
):
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert check_ids() == ["opsconsole.W004"]


# --- E003 PROMETHEUS_MULTIPROC_DIR ----------------------------------------------------


def test_a_missing_metrics_directory_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert check_ids() == ["opsconsole.E003"]


def test_an_existing_metrics_directory_is_fine(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert check_ids() == []


# --- manage.py check ------------------------------------------------------------------


def manage_check(env):
    inherited = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sound_environment(tmp_path):
    return {
        "SECRET_KEY": strong_key(),
        # Under the project's data directory, not a temporary one; `check`
        # does not open the database.
        "DATABASE_URL": f"sqlite:///{PERSISTENT_DIR / 'opsconsole-checks-unused.db'}",
        "BACKUP_DIR": str(tmp_path / "backups"),
        # Rate-limit counters shared by all gunicorn workers (W004).
        "CACHE_URL": "redis://127.0.0.1:6379/0",
    }


@pytest.mark.slow
def test_manage_py_check_reports_each_operational_mistake(tmp_path):
    result = manage_check(
        {
            "SECRET_KEY": "short-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "BACKUP_DIR": "/proc/tinylink-backups",
            "METRICS_ALLOWED_NETWORKS": "0.0.0.0/0",
            "WEB_CONCURRENCY": "3",
        }
    )
    output = result.stdout + result.stderr
    for check_id in ("E001", "W001", "W002", "W003", "W004"):
        assert f"opsconsole.{check_id}" in output, output
    assert "/proc/tinylink-backups does not exist and cannot be created" in output
    assert result.returncode == 1  # errors fail the command, warnings alone do not


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True], ids=["persistent-path", "debug"])
def test_manage_py_check_is_quiet_about_a_sound_configuration(tmp_path, debug):
    env = sound_environment(tmp_path)
    if debug:
        # DEBUG excuses a database under /tmp.
        env |= {"DJANGO_DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    result = manage_check(env)
    assert result.returncode == 0, result.stderr
    assert "opsconsole." not in result.stdout + result.stderr
    assert not (PERSISTENT_DIR / "opsconsole-checks-unused.db").exists()


@pytest.mark.slow
def test_manage_py_creates_a_missing_metrics_directory(tmp_path):
    """prometheus_client opens files there at import: settings create it first,
    so a fresh deployment does not die before any check can speak."""
    env = sound_environment(tmp_path)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "missing")
    result = manage_check(env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "missing").is_dir()


# --- E004 placeholder or guessable secrets --------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_TOKEN", "CHANGE_ME"),
        ("METRICS_TOKEN", "short"),
        ("BACKUP_SIGNING_KEY", "CHANGE_ME"),
        ("BACKUP_SIGNING_KEY", "change_me-please-0123456789abcdef"),
        ("BACKUP_SIGNING_KEY_FALLBACKS", ["old-key-0123456789abcdef", "CHANGE_ME"]),
        ("SECRET_KEY", "CHANGE_ME" + "x" * 50),
    ],
)
def test_a_secret_left_as_the_examples_placeholder_is_an_error(settings, name, value):
    # The env examples ship CHANGE_ME: left as it is, "Bearer CHANGE_ME" would
    # open /metrics to anyone who read the repository, and anyone could sign
    # a forged backup. migrate (the first step of every deploy path) stops.
    setattr(settings, name, value)
    assert check_ids() == ["opsconsole.E004"]


def test_real_secrets_pass(settings):
    settings.METRICS_TOKEN = "a-long-random-metrics-token-0123"
    settings.BACKUP_SIGNING_KEY = "a-long-random-signing-key-0123456789"
    assert check_ids() == []
