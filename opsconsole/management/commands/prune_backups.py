from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Delete all but the newest N backups in BACKUP_DIR. The newest backup "
        "that verifies is always kept."
    )
    kind = OpsKind.PRUNE_BACKUPS

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--keep",
            type=int,
            required=True,
            help="How many backups to keep (at least 1).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be deleted, delete nothing.",
        )

    def handle(self, *args, keep, dry_run, **options):
        self.perform(options, keep=keep, dry_run=dry_run)
