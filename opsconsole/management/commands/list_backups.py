import json

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from opsconsole.backups.catalog import list_backups, orphans
from opsconsole.backups.store import backup_store
from opsconsole.commandline import logs_to_stderr
from opsconsole.errors import OpsError

HEADER = ("NAME", "CREATED (UTC)", "SIZE", "ENGINE", "SCHEMA", "OK", "DRILL")
YES_NO = {True: "yes", False: "NO", None: "-"}


class Command(BaseCommand):
    help = (
        "List the backups in the backup store, newest first: name, time, size, "
        "engine, schema, whether its copy checked out at backup time (OK) and "
        "passed a restore drill, and where it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object on stdout."
        )

    def handle(self, *args, **options):
        if options["json"]:
            logs_to_stderr()
        store = backup_store()
        try:
            rows = [backup.as_dict() for backup in list_backups(store=store)]
            lost = orphans(store)
        except OpsError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            payload = {"store": store.where(), "backups": rows, "orphans": lost}
            self.stdout.write(json.dumps(payload, sort_keys=True))
            return
        self.stdout.write(_table(rows) if rows else f"No backups in {store.where()}.")
        for name in lost:
            self.stderr.write(
                f"orphan: {name} has no manifest; prune_backups removes it."
            )


def _table(rows):
    lines = [
        (
            row["name"] + (" (safety copy)" if row["purpose"] == "safety" else ""),
            row["created_at"][:19].replace("T", " "),
            filesizeformat(row["size"]).replace("\xa0", " "),
            row["engine"] or "?",
            row["schema"],
            YES_NO[row["verified"]],
            YES_NO[row["drilled"]],
        )
        for row in rows
    ]
    widths = [
        max(len(cell) for cell in column) for column in zip(HEADER, *lines, strict=True)
    ]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in [HEADER, *lines]
    )
