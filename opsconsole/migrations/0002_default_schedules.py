from django.db import migrations

DEFAULTS = [
    ("backup", 24),
    ("restore_test", 24 * 7),
    ("integrity", 24 * 7),
    ("maintenance", 24 * 30),
]


def create_default_schedules(apps, schema_editor):
    Schedule = apps.get_model("opsconsole", "Schedule")
    for kind, hours in DEFAULTS:
        Schedule.objects.get_or_create(kind=kind, defaults={"interval_hours": hours})


class Migration(migrations.Migration):
    dependencies = [("opsconsole", "0001_initial")]

    operations = [
        migrations.RunPython(create_default_schedules, migrations.RunPython.noop),
    ]
