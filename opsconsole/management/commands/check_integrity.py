from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind


class Command(OpsCommand):
    help = (
        "Check the database's storage (SQLite integrity_check and foreign keys; "
        "PostgreSQL amcheck) and TinyLink's invariants. Lists every finding and "
        "exits non-zero if there is any."
    )
    kind = OpsKind.INTEGRITY

    def handle(self, *args, **options):
        self.perform(options)
