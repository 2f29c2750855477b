"""Runs that a process from before run leases left "running" (killed, or at
work during the upgrade) get a lease of one hour: renewed by nobody, it
runs out, and they stop holding back their kind."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

HOLDER = "a process from before run leases"
GRACE = timedelta(hours=1)


def lease_runs_left_running(apps, schema_editor):
    OpsRun = apps.get_model("opsconsole", "OpsRun")
    RunLease = apps.get_model("opsconsole", "RunLease")
    alias = schema_editor.connection.alias
    now = timezone.now()
    left_running = OpsRun.objects.using(alias).filter(
        status="running", lease__isnull=True
    )
    RunLease.objects.using(alias).bulk_create(
        RunLease(
            run=run,
            holder=HOLDER,
            heartbeat_at=run.started_at or run.created_at,
            expires_at=now + GRACE,
        )
        for run in left_running
    )


class Migration(migrations.Migration):
    dependencies = [("opsconsole", "0003_run_leases_and_worker_heartbeats")]

    operations = [
        migrations.RunPython(lease_runs_left_running, migrations.RunPython.noop),
    ]
