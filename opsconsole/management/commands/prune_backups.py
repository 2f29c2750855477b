from opsconsole.commandline import OpsCommand
from opsconsole.retention import prune_backups


class Command(OpsCommand):
    help = (
        "Delete all but the newest N backups in BACKUP_DIR. The newest backup "
        "that verifies is always kept."
    )
    kind = "prune_backups"

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
        def operation(recorder):
            doomed = prune_backups(keep=keep, dry_run=dry_run)
            for path in doomed:
                recorder.log(f"{'would delete' if dry_run else 'deleted'} {path}")
                if not options["json"]:
                    self.stderr.write(
                        f"{'would delete' if dry_run else 'deleted'} {path}"
                    )
            verb = "Would delete" if dry_run else "Deleted"
            return (
                f"{verb} {len(doomed)} backup(s).",
                {"ok": True, "dry_run": dry_run, "deleted": [str(p) for p in doomed]},
                None,
            )

        self.run_operation(options, operation)
