from django.core.management.base import CommandError

from opsconsole.commandline import OpsCommand
from opsconsole.restore_test import run_restore_test


class Command(OpsCommand):
    help = (
        "Restore a backup into a scratch database (never the live one), check "
        "it, compare it with its manifest and record the restore time (RTO)."
    )
    kind = "restore_test"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("backup", nargs="?", help="Backup file to test.")
        parser.add_argument(
            "--latest",
            action="store_true",
            help="Test the newest backup in BACKUP_DIR.",
        )

    def handle(self, *args, backup, latest, **options):
        if bool(backup) == bool(latest):
            raise CommandError("Name one backup file, or --latest.")

        def operation(recorder):
            result = run_restore_test(backup)
            payload = {
                "ok": result.passed,
                "path": str(result.path),
                "rto_seconds": round(result.rto_seconds, 3),
                "problems": result.problems,
                "row_counts": result.row_counts,
            }
            if result.passed:
                summary = (
                    f"Restore test of {result.path.name} passed; restore took "
                    f"{result.rto_seconds:.2f} s."
                )
            else:
                summary = (
                    f"Restore test of {result.path.name} FAILED: {result.problems[0]}"
                )
            return summary, payload, None

        self.run_operation(options, operation)
