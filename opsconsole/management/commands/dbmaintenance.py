from opsconsole.commandline import OpsCommand, human_bytes
from opsconsole.maintenance import run_maintenance


class Command(OpsCommand):
    help = (
        "Database maintenance. Default: ANALYZE and VACUUM. SQLite also "
        "checkpoints the WAL; PostgreSQL works table by table with a lock "
        "timeout so traffic is not blocked."
    )
    kind = "maintenance"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        for step, text in (
            ("vacuum", "reclaim space (SQLite: needs ~2x the file free)"),
            ("analyze", "refresh planner statistics"),
            ("reindex", "rebuild indexes (PostgreSQL: concurrently)"),
            ("optimize", "SQLite PRAGMA optimize"),
        ):
            parser.add_argument(
                f"--{step}", action="store_true", help=text.capitalize() + "."
            )

    def handle(self, *args, **options):
        chosen = {k: options[k] for k in ("vacuum", "analyze", "reindex", "optimize")}
        if not any(chosen.values()):
            chosen.update(vacuum=True, analyze=True)

        def operation(recorder):
            result = run_maintenance(progress=self.progress, **chosen)
            steps = ", ".join(
                f"{name} {seconds:.2f} s" for name, seconds in result.steps
            )
            summary = (
                f"Maintenance done in {result.duration_seconds:.1f} s ({steps}); "
                f"size {human_bytes(result.size_before)} → "
                f"{human_bytes(result.size_after)}."
            )
            payload = {
                "ok": True,
                "steps": [{"step": n, "seconds": round(s, 3)} for n, s in result.steps],
                "size_before": result.size_before,
                "size_after": result.size_after,
                "wal_before": result.wal_before,
                "wal_after": result.wal_after,
                "duration_seconds": round(result.duration_seconds, 3),
            }
            return summary, payload, None

        self.run_operation(options, operation)
