import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from opsconsole.errors import OpsError
from opsconsole.restore import restore_backup
from opsconsole.runs import record_finished
from opsconsole.verify import verify_backup


class Command(BaseCommand):
    help = (
        "Restore a backup into the live database. The backup is verified "
        "first, a safety backup of the current data is taken, and a failure "
        "part-way leaves the current data unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "backup", help="Path of the backup file (not the manifest)."
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask to type 'yes'.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the result as one JSON object on stdout.",
        )

    def handle(self, *args, backup, interactive, **options):
        started_at, started = timezone.now(), time.monotonic()
        try:
            manifest = verify_backup(backup).manifest
            if interactive:
                self._confirm(manifest)
            result = restore_backup(backup)
        except OpsError as exc:
            # The data is unchanged, so this row survives (a restore that
            # succeeded would have replaced the table under it).
            record_finished(
                "restore",
                trigger="command",
                status="failed",
                summary=str(exc),
                started_at=started_at,
                duration=time.monotonic() - started,
            )
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": str(exc)}))
            raise CommandError(str(exc)) from exc
        summary = (
            f"Restored {result.path.name} in {result.duration_seconds:.1f} s; "
            f"previous data saved as {result.safety_backup}."
        )
        if result.migrations_applied:
            summary += f" Applied migrations: {', '.join(result.migrations_applied)}."
        for difference in result.count_differences:
            self.stderr.write(f"note: rows changed since the load: {difference}")
        payload = {
            "ok": True,
            "path": str(result.path),
            "safety_backup": str(result.safety_backup),
            "duration_seconds": round(result.duration_seconds, 3),
            "row_counts": result.row_counts,
            "count_differences": result.count_differences,
            "migrations_applied": result.migrations_applied,
        }
        record_finished(
            "restore",
            trigger="command",
            status="succeeded",
            summary=summary,
            started_at=started_at,
            duration=result.duration_seconds,
            result=payload,
        )
        self.stdout.write(
            json.dumps(payload, sort_keys=True) if options["json"] else summary
        )

    def _confirm(self, manifest):
        counts = manifest["row_counts"].get("links_link", "?")
        prompt = (
            f"This replaces ALL data in the database with the backup of "
            f"{manifest['created_at']} ({counts} links).\n"
            "A safety backup of the current data is taken first.\n"
            "Type 'yes' to continue, or 'no' to cancel: "
        )
        try:
            answer = input(prompt)
        except EOFError:
            raise OpsError(
                "No answer on standard input; pass --noinput to restore without asking."
            ) from None
        if answer.strip() != "yes":
            raise OpsError("Restore cancelled.")
