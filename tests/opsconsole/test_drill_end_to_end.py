"""The disaster drill, scripted, on the production entry point: gunicorn
with several workers and the opsworker process. The worker backs up; the
database is lost (SQLite file deleted / PostgreSQL database dropped and
created empty) while both keep running; `restore --latest --noinput` brings
every link and click back; readiness, full health and the backup metrics
tell the truth afterwards. The same against an S3 store, and a corrupt
SQLite file restored over."""

import json
import os
import signal
import subprocess
import sys

import pytest
from django.db import connection
from django.db.models import Sum

from links.models import Link, LinkDailyClicks
from opsconsole.backups.catalog import list_backups
from opsconsole.models import OpsRun, Schedule
from tests.opsconsole import s3_server
from tests.opsconsole.helpers import (
    make_sample_data,
    manage,
    subprocess_env,
    wait_for,
)
from tests.opsconsole.test_disaster import _lose_database, corrupt_table_page
from tests.servers import ROOT, GunicornServer, http_request, poll

pytestmark = pytest.mark.slow


def _totals():
    connection.close()
    return (
        Link.objects.count(),
        Link.objects.aggregate(total=Sum("click_count"))["total"],
        LinkDailyClicks.objects.aggregate(total=Sum("clicks"))["total"],
    )


@pytest.fixture
def production(transactional_db, settings, tmp_path):
    """gunicorn (3 workers) and `manage.py opsworker`, both on the test
    database and the same backup store; stopped (gracefully) afterwards, and
    the test database made whole again whatever the test did to it."""
    settings.BACKUP_DIR = tmp_path / "backups"
    Schedule.objects.all().delete()
    started = {}

    def start(extra_env=None):
        env = {
            "BACKUP_DIR": str(settings.BACKUP_DIR),
            "BACKUP_STAGING_DIR": str(settings.BACKUP_STAGING_DIR),
            "CLICK_HOLD_CHECK_SECONDS": "0.2",
            **(extra_env or {}),
        }
        server = GunicornServer(tmp_path, workers=3, threads=4, extra_env=env)
        server.start()
        started["server"] = server
        started["worker"] = subprocess.Popen(
            [sys.executable, "manage.py", "opsworker", "--poll", "0.2"],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "opsworker.log", "wb"),  # noqa: SIM115
        )
        return server, env

    yield start
    if "worker" in started:
        started["worker"].send_signal(signal.SIGTERM)
        started["worker"].wait(timeout=60)
    if "server" in started:
        started["server"].stop()
    connection.close()
    if "django_migrations" not in connection.introspection.table_names():
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def _drill(server, env, store_objects=None):
    make_sample_data()
    clicked = _totals()[1]
    for link in Link.objects.all():
        assert http_request(f"{server.url}/{link.short_code}")[0] == 302
    # Each worker writes its clicks within CLICK_FLUSH_SECONDS.
    clicked += Link.objects.count()
    poll(lambda: _totals()[1], clicked)
    before = _totals()
    assert before[1] == clicked
    run, _ = OpsRun.objects.queue("backup", trigger="admin:drill")
    wait_for(
        lambda: OpsRun.objects.get(pk=run.pk).status == "succeeded",
        timeout=120,
        interval=0.2,
        message="the worker's backup",
    )

    _lose_database()
    restored = manage("restore", "--latest", "--noinput", env=env, timeout=300)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "nothing to save" in restored.stdout
    assert _totals() == before
    # On PostgreSQL the pooled connections died with the dropped database:
    # each process answers 503 on them until it has connected anew.
    for code in ("code0", "code2"):
        wait_for(
            lambda code=code: http_request(f"{server.url}/{code}")[0] == 302,
            timeout=30,
            interval=0.1,
            message=f"/{code} redirecting again",
        )
    ready = wait_for(
        lambda: (
            (answer := http_request(f"{server.url}/health/ready"))[0] == 200 and answer
        ),
        timeout=30,
        interval=0.1,
        message="/health/ready 200",
    )
    assert json.loads(ready[2])["status"] == "ok"
    full = json.loads(http_request(f"{server.url}/health/full")[2])
    assert full["checks"]["backups"] == "ok", full
    metrics = http_request(f"{server.url}/metrics")[2].decode()
    assert "\ntinylink_backup_last_success_timestamp_seconds " in metrics
    return restored


def test_the_drill_on_the_backup_directory(production):
    server, env = production()
    _drill(server, env)
    assert len(list_backups()) == 1


def test_the_drill_on_an_s3_store(production, settings, tmp_path_factory):
    with s3_server.s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        bucket = s3_server.new_bucket(endpoint)
        env = s3_server.store_env(endpoint, bucket)
        os.environ.update(env)
        try:
            settings.STORAGES = {
                **settings.STORAGES,
                "backups": s3_server.store_settings(endpoint, bucket),
            }
            server, env = production(env)
            _drill(server, env)
            [backup] = list_backups()
            assert backup.location.startswith(f"s3://{bucket}/")
        finally:
            for key in env:
                os.environ.pop(key, None)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's file")
def test_a_corrupt_sqlite_file_is_restored_over(production):
    server, env = production()
    make_sample_data()
    before = _totals()
    assert manage("backup", env=env).returncode == 0
    connection.close()
    corrupt_table_page(connection.settings_dict["NAME"])

    restored = manage("restore", "--latest", "--noinput", env=env)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "failed its integrity check" in restored.stdout
    assert _totals() == before
    assert http_request(f"{server.url}/code0")[0] == 302
    assert manage("check_integrity", env=env).returncode == 0
