from django.core.management.base import CommandError

from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Restore a backup into a scratch database (never the live one), check "
        "it, compare it with its manifest and record the restore time (RTO)."
    )
    kind = OpsKind.RESTORE_TEST

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("backup", nargs="?", help="Backup file to test.")
        parser.add_argument(
            "--latest",
            action="store_true",
            help="Test the newest backup in BACKUP_DIR (never a safety copy).",
        )
        parser.add_argument(
            "--trust-unsigned",
            action="store_true",
            help="Accept a backup whose manifest this installation did not sign.",
        )

    def handle(self, *args, backup, latest, trust_unsigned, **options):
        if bool(backup) == bool(latest):
            raise CommandError("Name one backup file, or --latest.")
        # No backup named: the operation drills the newest one.
        self.perform(options, backup=backup, trust_unsigned=trust_unsigned)
