from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Delete links that expired more than DAYS days ago. Their codes and "
        "click totals are logged and recorded before deletion."
    )
    kind = OpsKind.PURGE_LINKS

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--expired-for",
            type=int,
            required=True,
            metavar="DAYS",
            help="Only links expired at least this many days ago.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be deleted, delete nothing.",
        )

    def handle(self, *args, expired_for, dry_run, **options):
        self.perform(options, expired_for_days=expired_for, dry_run=dry_run)
