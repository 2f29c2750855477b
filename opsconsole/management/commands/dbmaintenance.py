from opsconsole.commandline import OpsCommand
from opsconsole.models import OpsKind

STEPS = (
    ("vacuum", "reclaim space (SQLite: needs ~2x the file free)"),
    ("analyze", "refresh planner statistics"),
    ("reindex", "rebuild indexes (PostgreSQL: concurrently)"),
    ("optimize", "SQLite PRAGMA optimize"),
)


class Command(OpsCommand):
    help = (
        "Database maintenance. Default: ANALYZE and VACUUM. SQLite also "
        "checkpoints the WAL; PostgreSQL works table by table with a lock "
        "timeout so traffic is not blocked."
    )
    kind = OpsKind.MAINTENANCE

    def add_arguments(self, parser):
        super().add_arguments(parser)
        for step, text in STEPS:
            parser.add_argument(
                f"--{step}", action="store_true", help=text.capitalize() + "."
            )

    def handle(self, *args, **options):
        chosen = {step: options[step] for step, _ in STEPS}
        # No step named: the operation's defaults (VACUUM and ANALYZE).
        self.perform(options, **(chosen if any(chosen.values()) else {}))
