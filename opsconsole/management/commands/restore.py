from django.core.management.base import CommandError

from opsconsole.commandline import OpsCommand
from opsconsole.errors import OpsError
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Restore a backup into the live database. The backup is verified "
        "first, a safety backup of the current data is taken, and a failure "
        "part-way leaves the current data unchanged."
    )
    kind = OpsKind.RESTORE

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "backup",
            nargs="?",
            help=(
                "The backup's name in the store (list_backups shows them), or "
                "the path of a backup file with its manifest beside it."
            ),
        )
        parser.add_argument(
            "--latest",
            action="store_true",
            help="Restore the newest backup in BACKUP_DIR (never a safety copy).",
        )
        parser.add_argument(
            "--trust-unsigned",
            action="store_true",
            help=(
                "Accept a backup whose manifest is unsigned or signed by another "
                "installation's key (you vouch for where it comes from)."
            ),
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask to type 'yes'.",
        )

    def handle(self, *args, backup, latest, interactive, trust_unsigned, **options):
        if bool(backup) == bool(latest):
            raise CommandError("Name one backup file, or --latest.")
        asked = {"confirm": self.confirm} if interactive else {}
        self.perform(options, backup=backup, trust_unsigned=trust_unsigned, **asked)

    def confirm(self, manifest):
        """Called with the verified backup's manifest, before anything changes."""
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
