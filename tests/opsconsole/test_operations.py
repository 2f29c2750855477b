"""The one registry of operations: commands, worker and admin run the same
function and record it the same way."""

import io
import json
from dataclasses import replace

from django.contrib.auth import get_user_model
from django.core.management import call_command

from opsconsole.models import OpsKind, OpsRun, Schedule
from opsconsole.operations import OPERATIONS, perform, queueable_kinds
from opsconsole.worker import Worker


def test_every_kind_of_run_has_an_operation():
    assert set(OPERATIONS) == set(OpsKind.values)


def test_a_restore_is_never_queueable():
    assert OpsKind.RESTORE not in queueable_kinds()


def test_the_admin_offers_exactly_the_queueable_operations(db, client):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-1")
    client.force_login(admin)
    page = client.get("/admin/opsconsole/opsrun/operations/").content.decode()
    for kind, operation in OPERATIONS.items():
        queue_url = f"/admin/opsconsole/opsrun/queue/{kind}/"
        assert (queue_url in page) == operation.queueable, kind
        if operation.queueable:
            assert operation.button in page


def test_command_and_worker_record_the_same_result(db):
    Schedule.objects.all().delete()
    out = io.StringIO()
    call_command("check_integrity", "--json", stdout=out)
    by_command = OpsRun.objects.get(trigger="command")

    queued, _ = OpsRun.objects.queue(OpsKind.INTEGRITY, trigger="admin:alice")
    Worker().run_queued()
    queued.refresh_from_db()

    assert json.loads(out.getvalue()) == by_command.result
    assert queued.status == by_command.status == "succeeded"
    assert queued.summary == by_command.summary
    assert queued.result.keys() == by_command.result.keys()


def test_perform_records_a_failed_result_as_a_failed_run(db, monkeypatch):
    from opsconsole.integrity import Finding, IntegrityResult

    found = IntegrityResult(findings=[Finding("negative click count", "abc")])
    monkeypatch.setitem(
        OPERATIONS,
        OpsKind.INTEGRITY,
        replace(OPERATIONS[OpsKind.INTEGRITY], function=lambda **kwargs: found),
    )
    result = perform(OpsKind.INTEGRITY, trigger="test")
    run = OpsRun.objects.get(trigger="test")
    assert result is found
    assert run.status == "failed"
    assert run.summary == "Integrity check found 1 problem(s)."
    assert "FINDING negative click count: abc" in run.output
