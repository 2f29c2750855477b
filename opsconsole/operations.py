"""The one registry of data operations, kind → the function that does it.

The management commands, the worker (for what the admin's buttons and the
schedules queue) and the admin all go through `perform`, so a backup is the
same backup, recorded the same way, wherever it was asked for.
"""

from dataclasses import dataclass

from opsconsole.backups.create import create_backup
from opsconsole.backups.drill import run_restore_test
from opsconsole.backups.restore import restore_backup
from opsconsole.backups.retention import prune_backups
from opsconsole.integrity import check_integrity
from opsconsole.maintenance import run_maintenance
from opsconsole.models import OpsKind
from opsconsole.purge import purge_links
from opsconsole.runs import recorded_afterwards, recorded_run


@dataclass(frozen=True)
class Operation:
    function: object
    # The admin's button for it; operations without one are never queued
    # (the worker runs only these).
    button: str = ""
    # It takes a progress(done, total) callback.
    reports_progress: bool = False
    # It replaces the run table itself (a restore): recorded afterwards.
    replaces_runs: bool = False

    @property
    def queueable(self):
        return bool(self.button)


OPERATIONS = {
    OpsKind.BACKUP: Operation(create_backup, "Back up now", reports_progress=True),
    OpsKind.RESTORE_TEST: Operation(run_restore_test, "Test-restore latest backup"),
    OpsKind.INTEGRITY: Operation(
        check_integrity, "Check integrity", reports_progress=True
    ),
    OpsKind.MAINTENANCE: Operation(
        run_maintenance, "Run maintenance", reports_progress=True
    ),
    OpsKind.PRUNE_BACKUPS: Operation(prune_backups),
    OpsKind.PURGE_LINKS: Operation(purge_links),
    # Never queued: it replaces the live data, and an operator types it.
    OpsKind.RESTORE: Operation(
        restore_backup, reports_progress=True, replaces_runs=True
    ),
}


def queueable_kinds():
    return [kind for kind, operation in OPERATIONS.items() if operation.queueable]


def perform(kind, *, trigger="command", run=None, holder=None, echo=None, **arguments):
    """Run the operation `kind` with `arguments`, recorded as an OpsRun (the
    queued `run` when the worker runs it) whose lease `holder` (by default
    "<trigger> on <host> (pid n)") renews while it runs. Returns the
    operation's result; raises what the operation raised, after recording
    it. `echo(line)` hears the progress lines."""
    operation = OPERATIONS[kind]
    # Callbacks (a restore's confirm) are not options worth recording.
    options = {name: value for name, value in arguments.items() if not callable(value)}
    record = (
        recorded_afterwards(kind, trigger=trigger, options=options, echo=echo)
        if operation.replaces_runs
        else recorded_run(
            kind, trigger=trigger, options=options, run=run, holder=holder, echo=echo
        )
    )
    with record as recorder:
        if operation.reports_progress:
            arguments["progress"] = recorder.progress
        result = operation.function(**arguments)
        recorder.finish(result)
    return result
