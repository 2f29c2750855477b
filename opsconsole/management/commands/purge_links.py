from opsconsole.commandline import OpsCommand
from opsconsole.retention import purge_links


class Command(OpsCommand):
    help = (
        "Delete links that expired more than DAYS days ago. Their codes and "
        "click totals are logged and recorded before deletion."
    )
    kind = "purge_links"

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
        def operation(recorder):
            result = purge_links(expired_for_days=expired_for, dry_run=dry_run)
            recorder.log("codes: " + ", ".join(result.codes))
            verb = "Would delete" if dry_run else "Deleted"
            return (
                f"{verb} {result.count} link(s) expired over {expired_for} days "
                f"ago, with {result.clicks} clicks in total.",
                {
                    "ok": True,
                    "dry_run": dry_run,
                    "count": result.count,
                    "clicks": result.clicks,
                    "codes": result.codes,
                },
                None,
            )

        self.run_operation(options, operation)
