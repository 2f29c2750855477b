from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Take a consistent hot backup of the database (safe while TinyLink "
        "serves traffic), write its manifest, then keep the newest N backups."
    )
    kind = OpsKind.BACKUP

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--output-dir", help="Directory for the backup (default: BACKUP_DIR)."
        )
        parser.add_argument(
            "--keep",
            type=int,
            help="Backups to keep after this one is complete (default: BACKUP_KEEP).",
        )
        parser.add_argument(
            "--label",
            default="",
            help="A word added to the file name, e.g. before-upgrade.",
        )

    def handle(self, *args, output_dir, keep, label, **options):
        self.perform(options, output_dir=output_dir, keep=keep, label=label)
