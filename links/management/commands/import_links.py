from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from links.auth import UnknownUser, find_user
from links.imports import ImportFileError, import_links


class Command(BaseCommand):
    help = (
        "Import links from a UTF-8 CSV file: either the export's format (a header "
        "row, columns in any order, short_code and target_url required) or plain "
        "target_url[,short_code] rows without a header (no code: one is "
        "generated). Every row is validated like the API. Rows whose short code "
        "exists are skipped, never overwritten, so running it again is safe. "
        "Invalid rows are listed with their line numbers and the command exits "
        "non-zero, after importing all the valid rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file to import.")
        parser.add_argument(
            "--owner",
            metavar="USER",
            help="Username that owns the imported links (default: no owner).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate every row and report what would happen; write nothing.",
        )

    def handle(self, *args, file, owner, dry_run, verbosity, **options):
        try:
            owner_user = find_user(owner) if owner else None
        except UnknownUser as exc:
            raise CommandError(str(exc)) from exc

        def report(line, status, message):
            if status == "invalid":
                self.stderr.write(f"line {line}: {message}")
            elif verbosity >= 2:
                self.stdout.write(f"line {line}: {message}")

        def progress(result):
            if verbosity >= 1:
                self.stderr.write(f"{result.rows:,} rows: {_counts(result)}")

        try:
            result = import_links(
                path=Path(file),
                owner=owner_user,
                dry_run=dry_run,
                report=report,
                progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if dry_run:
            self.stdout.write(f"Dry run, nothing written: {_counts(result)}.")
        else:
            self.stdout.write(f"Imported {file}: {_counts(result)}.")
        if result.invalid:
            done = (
                "nothing was written (dry run)"
                if dry_run
                else "the valid rows were imported; fix the listed rows and run "
                "it again (existing rows are skipped)"
            )
            rows = "row" if result.invalid == 1 else "rows"
            raise CommandError(f"{result.invalid:,} invalid {rows}; {done}.")


def _counts(result):
    created = "would create" if result.dry_run else "created"
    return (
        f"{created} {result.created:,}, existed {result.existed:,}, "
        f"invalid {result.invalid:,}"
    )
