"""run_maintenance and `manage.py dbmaintenance`: the chosen steps run, sizes
are reported, and maintenance gives way instead of blocking."""

import io
import json
import shutil
from collections import namedtuple

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from links.models import Link
from opsconsole.errors import OpsError
from opsconsole.maintenance import run_maintenance
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import add_links, data_checksum, make_sample_data

ON_SQLITE = connection.vendor == "sqlite"


def test_default_steps_report_sizes_and_keep_the_data(transactional_db):
    make_sample_data()
    before = data_checksum()
    result = run_maintenance()
    steps = [name for name, _ in result.steps]
    if ON_SQLITE:
        assert steps == ["vacuum", "analyze", "wal_checkpoint"]
        assert result.wal_after == 0
    else:
        assert steps == ["vacuum (analyze)"]
        assert result.wal_before is result.wal_after is None
    assert result.size_before > 0
    assert result.size_after > 0
    assert data_checksum() == before


def test_every_step_can_be_chosen(transactional_db):
    result = run_maintenance(vacuum=False, analyze=True, reindex=True, optimize=True)
    steps = [name for name, _ in result.steps]
    if ON_SQLITE:
        assert steps == ["analyze", "reindex", "optimize", "wal_checkpoint"]
    else:
        # optimize is SQLite's PRAGMA; PostgreSQL has nothing to do for it.
        assert steps == ["analyze", "reindex table concurrently"]


@pytest.mark.skipif(not ON_SQLITE, reason="VACUUM shrinks only SQLite's file")
def test_sqlite_vacuum_gives_back_the_space_of_deleted_rows(transactional_db):
    add_links(20_000, "v", target_size=200)
    Link.objects.all().delete()
    result = run_maintenance(analyze=False)
    assert result.size_after < result.size_before / 2


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite's VACUUM copies the file")
def test_sqlite_vacuum_without_room_refuses_before_starting(
    transactional_db, monkeypatch
):
    # Filling the real disk is not an option: the free space is what
    # shutil.disk_usage says.
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1))
    with pytest.raises(OpsError, match="VACUUM needs about"):
        run_maintenance()
    # Without VACUUM there is nothing to make room for.
    run_maintenance(vacuum=False)


@pytest.mark.skipif(ON_SQLITE, reason="PostgreSQL's lock_timeout")
def test_postgresql_maintenance_gives_way_to_a_held_table_lock(transactional_db):
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"]
    ) as other:
        # What a long ALTER TABLE or another VACUUM holds.
        other.execute("LOCK TABLE links_link IN SHARE UPDATE EXCLUSIVE MODE")
        with pytest.raises(OpsError, match="gave way to traffic"):
            run_maintenance(vacuum=True, analyze=False)


def test_command_reports_sizes_in_json_and_records_the_run(transactional_db):
    out = io.StringIO()
    call_command("dbmaintenance", json=True, stdout=out, stderr=io.StringIO())
    payload = json.loads(out.getvalue())
    assert payload["ok"] is True
    assert payload["size_before"] > 0
    assert payload["size_after"] > 0
    assert payload["steps"]
    run = OpsRun.objects.get(kind="maintenance")
    assert run.status == "succeeded"
    assert "size" in run.summary
    assert run.result == payload


def test_command_failure_is_one_error_and_a_failed_run(transactional_db, monkeypatch):
    if not ON_SQLITE:
        pytest.skip("the disk-space refusal is SQLite's")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1))
    with pytest.raises(CommandError, match="VACUUM needs about"):
        call_command("dbmaintenance", vacuum=True, stdout=io.StringIO())
    run = OpsRun.objects.get(kind="maintenance")
    assert run.status == "failed"
    assert run.summary.startswith("VACUUM needs about")
