"""Recording every data operation as an OpsRun row."""

import time
from contextlib import contextmanager

from django.utils import timezone

from opsconsole.models import OpsRun, OpsStatus


class RunRecorder:
    def __init__(self, run):
        self.run = run
        self._last_save = time.monotonic()

    def log(self, text):
        self.run.append_output(text if text.endswith("\n") else text + "\n")
        # Progress is visible in the admin, but not one write per line.
        if time.monotonic() - self._last_save > 2:
            self.run.save(update_fields=["output"])
            self._last_save = time.monotonic()

    def finish(self, *, summary, result=None, artifact=None):
        self.run.summary = summary[:500]
        self.run.result = result or {}
        if artifact is not None:
            self.run.artifact_path = str(artifact["path"])
            self.run.artifact_size = artifact["size"]
            self.run.artifact_sha256 = artifact["sha256"]


@contextmanager
def recorded_run(kind, *, trigger, options=None, run=None):
    """Create (or take over a queued) OpsRun, mark it running, and mark it
    succeeded or failed with the error as its summary."""
    now = timezone.now()
    if run is None:
        run = OpsRun.objects.create(
            kind=kind,
            trigger=trigger,
            options=options or {},
            status=OpsStatus.RUNNING,
            started_at=now,
        )
    else:
        run.status, run.started_at = OpsStatus.RUNNING, now
        run.save(update_fields=["status", "started_at"])
    recorder = RunRecorder(run)
    started = time.monotonic()
    try:
        yield recorder
    except BaseException as exc:
        run.status = OpsStatus.FAILED
        run.summary = (str(exc) or type(exc).__name__)[:500]
        raise
    else:
        if run.status == OpsStatus.RUNNING:
            run.status = OpsStatus.SUCCEEDED
    finally:
        run.finished_at = timezone.now()
        run.duration_seconds = time.monotonic() - started
        # A restore replaces this table too: save() inserts the row again if
        # the restored data does not have it.
        run.save()


def record_finished(
    kind, *, trigger, status, summary, started_at, duration, output="", result=None
):
    """For a restore, whose own row would be overwritten by the restored
    table: written once, after the data is back."""
    return OpsRun.objects.create(
        kind=kind,
        trigger=trigger,
        status=status,
        summary=summary[:500],
        started_at=started_at,
        finished_at=timezone.now(),
        duration_seconds=duration,
        output=output[-20_000:],
        result=result or {},
    )
