"""What every data-operation command promises: --json prints one object that
parses, a failure is one line and a non-zero exit, and every run is recorded
as an OpsRun with its status and summary."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from opsconsole.backups.create import create_backup
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import (
    data_checksum,
    error_line,
    make_sample_data,
    manage,
    manage_json,
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


def _json_of(name, *args, **options):
    out = io.StringIO()
    call_command(name, *args, json=True, stdout=out, stderr=io.StringIO(), **options)
    text = out.getvalue()
    assert text.count("\n") == 1, text  # one object, one line
    return json.loads(text)


@pytest.mark.parametrize(
    ("name", "options", "kind", "keys"),
    [
        ("backup", {}, "backup", {"path", "size", "sha256", "row_counts"}),
        ("check_integrity", {}, "integrity", {"findings", "notes", "checked"}),
        ("dbmaintenance", {}, "maintenance", {"steps", "size_before", "size_after"}),
        ("prune_backups", {"keep": 3}, "prune_backups", {"deleted", "dry_run"}),
        ("purge_links", {"expired_for": 30}, "purge_links", {"count", "codes"}),
    ],
)
def test_json_output_parses_and_the_run_is_recorded(
    transactional_db, name, options, kind, keys
):
    make_sample_data()
    payload = _json_of(name, **options)
    assert payload["ok"] is True
    assert keys <= payload.keys()
    run = OpsRun.objects.get(kind=kind)
    assert run.status == "succeeded"
    assert run.summary
    assert run.finished_at is not None
    assert run.result == json.loads(json.dumps(payload))


def test_backup_run_records_its_artifact(transactional_db):
    payload = _json_of("backup", label="nightly")
    run = OpsRun.objects.get(kind="backup")
    assert run.artifact_path == payload["path"]
    assert run.artifact_size == payload["size"]
    assert run.artifact_sha256 == payload["sha256"]
    assert "nightly" in run.artifact_path


def test_restore_json_parses_and_the_run_is_recorded(transactional_db):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    payload = _json_of("restore", str(backup.path), interactive=False)
    assert payload["ok"] is True
    assert payload["path"] == str(backup.path)
    assert data_checksum() == before
    run = OpsRun.objects.get(kind="restore")
    assert run.status == "succeeded"
    assert run.result == payload


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backup", "--keep", "0"], "CommandError: --keep must be at least 1."),
        (["prune_backups", "--keep", "0"], "CommandError: keep must be at least 1."),
        (
            ["purge_links", "--expired-for", "-1"],
            "CommandError: --expired-for must be 0 or more days.",
        ),
        (["restore", "/nonexistent.sqlite3", "--noinput"], "CommandError: no backup"),
    ],
)
def test_failure_is_one_line_and_a_non_zero_exit(transactional_db, args, message):
    result = manage(*args)
    assert result.returncode == 1
    assert error_line(result.stderr).startswith(message)
    assert result.stdout == ""


def test_failure_with_json_prints_the_error_as_json(transactional_db):
    out = io.StringIO()
    with pytest.raises(CommandError, match="--keep must be at least 1"):
        call_command("backup", keep=0, json=True, stdout=out)
    assert json.loads(out.getvalue()) == {
        "ok": False,
        "error": "--keep must be at least 1.",
    }
    run = OpsRun.objects.get(kind="backup")
    assert (run.status, run.summary) == ("failed", "--keep must be at least 1.")


def test_restore_failure_with_json_prints_the_error_as_json(transactional_db):
    out = io.StringIO()
    with pytest.raises(CommandError, match="no backup file"):
        call_command(
            "restore", "/nonexistent.sqlite3", interactive=False, json=True, stdout=out
        )
    assert json.loads(out.getvalue())["ok"] is False


def test_refused_restore_is_recorded_as_a_failed_run(transactional_db, tmp_path):
    with pytest.raises(CommandError):
        call_command("restore", str(tmp_path / "missing"), interactive=False)
    run = OpsRun.objects.get(kind="restore")
    assert run.status == "failed"


@pytest.mark.slow
def test_json_output_is_the_json_alone_even_when_the_command_logs(
    transactional_db, settings, tmp_path
):
    settings.BACKUP_DIR = tmp_path / "backups"
    create_backup()
    create_backup()
    # Pruning logs a line per deleted backup; --json must stay parseable.
    code, payload, stderr = manage_json("prune_backups", "--keep", "1")
    assert code == 0
    assert len(payload["deleted"]) == 1
    assert "pruned backup" in stderr
