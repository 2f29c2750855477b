import os
from contextlib import closing
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from links.auth import UnknownUser, find_user
from links.exports import csv_lines
from links.files import durable_write
from links.models import Link

PROGRESS_EVERY = 10_000


class Command(BaseCommand):
    help = (
        "Write links as CSV, the same format as the API's export.csv, to stdout "
        "or to a file. Streamed: memory stays flat for any number of links."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--owner",
            metavar="USER",
            help="Export only this user's links (default: every link).",
        )
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help=(
                "Write to FILE instead of stdout. FILE appears only when the "
                "export is complete (written to FILE.partial, then renamed) and "
                "is readable by its owner only."
            ),
        )

    def handle(self, *args, owner, output, verbosity, **options):
        links = Link.objects.all()
        if owner:
            try:
                links = links.owned_by(find_user(owner))
            except UnknownUser as exc:
                raise CommandError(str(exc)) from exc
        self.exported = 0
        if connection.vendor == "sqlite":
            # One pass over every link reuses no page: SQLite's 20 MB page
            # cache (settings) would only grow this process past 100 MB.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -2000")
        # closing(): a failed export releases its database cursor now, not
        # when the generator is collected after the connection has closed.
        with closing(self._counted(csv_lines(links), verbosity)) as lines:
            if output:
                self._export_to_file(lines, Path(output))
            else:
                self._export_to_stdout(lines, verbosity)

    def _export_to_file(self, lines, path):
        try:
            # Target URLs can be private: the file is its owner's only.
            with (
                durable_write(path, mode=0o600) as partial,
                open(partial, "w", encoding="utf-8", newline="") as handle,
            ):
                handle.writelines(lines)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        self.stdout.write(f"Exported {self.exported:,} links to {path}.")

    def _export_to_stdout(self, lines, verbosity):
        try:
            for line in lines:
                self.stdout.write(line, ending="")
            self.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (`export_links | head`): one line, no
            # traceback, and no second error when Python flushes at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stdout.fileno())
            raise CommandError(
                "stdout was closed before the export was complete."
            ) from None
        # stdout carries the CSV, so the summary goes to stderr.
        if verbosity >= 1:
            self.stderr.write(f"Exported {self.exported:,} links.")

    def _counted(self, lines, verbosity):
        """Pass the lines on, counting links (the first line is the header)."""
        yield next(lines)
        for line in lines:
            yield line
            self.exported += 1
            if self.exported % PROGRESS_EVERY == 0 and verbosity >= 1:
                self.stderr.write(f"{self.exported:,} links exported…")
