"""A schedule's next run is empty until a worker first sees it, which then
sets it a few staggered minutes ahead (opsconsole.worker.arm_new_schedules). Before,
0002 made every default schedule due at once, so the first worker start
ran a backup, a restore test, an integrity check and maintenance in a row,
a second after any backup made by hand. Schedules that never queued a run
and are due now are reset to wait for the worker; the others keep their time."""

from django.db import migrations, models
from django.utils import timezone


def wait_for_the_worker(apps, schema_editor):
    Schedule = apps.get_model("opsconsole", "Schedule")
    alias = schema_editor.connection.alias
    # Only those that would fall due at once: a future time an operator chose
    # for a schedule that has not run yet (a nightly 03:00) is kept.
    Schedule.objects.using(alias).filter(
        last_run__isnull=True, next_run_at__lte=timezone.now()
    ).update(next_run_at=None)


def due_now(apps, schema_editor):
    Schedule = apps.get_model("opsconsole", "Schedule")
    alias = schema_editor.connection.alias
    Schedule.objects.using(alias).filter(next_run_at__isnull=True).update(
        next_run_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("opsconsole", "0004_lease_runs_left_running")]

    operations = [
        migrations.AlterField(
            model_name="schedule",
            name="next_run_at",
            field=models.DateTimeField(
                blank=True,
                help_text=(
                    "Leave empty to run a few minutes after the worker next looks at "
                    "the schedules."
                ),
                null=True,
            ),
        ),
        migrations.RunPython(wait_for_the_worker, due_now),
    ]
