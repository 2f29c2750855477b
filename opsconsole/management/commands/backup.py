from opsconsole.backup import create_backup
from opsconsole.commandline import OpsCommand, human_bytes


class Command(OpsCommand):
    help = (
        "Take a consistent hot backup of the database (safe while TinyLink "
        "serves traffic), write its manifest, then keep the newest N backups."
    )
    kind = "backup"

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

    def handle(self, *args, **options):
        def operation(recorder):
            result = create_backup(
                output_dir=options["output_dir"],
                keep=options["keep"],
                label=options["label"],
                progress=self.progress,
            )
            payload = {
                "ok": True,
                "path": str(result.path),
                "size": result.size,
                "sha256": result.sha256,
                "duration_seconds": round(result.duration_seconds, 3),
                "row_counts": result.manifest["row_counts"],
                "pruned": [str(p) for p in result.pruned],
            }
            summary = (
                f"Backed up to {result.path} ({human_bytes(result.size)}, "
                f"{result.duration_seconds:.1f} s); pruned {len(result.pruned)}."
            )
            artifact = {
                "path": result.path,
                "size": result.size,
                "sha256": result.sha256,
            }
            return summary, payload, artifact

        self.run_operation(options, operation)
