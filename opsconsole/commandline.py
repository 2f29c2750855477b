"""What every data-operation command shares: --json, progress on stderr, the
operation run through the registry (and so recorded), and OpsError →
CommandError (one line, non-zero exit)."""

import json
import logging
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from opsconsole.errors import OpsError
from opsconsole.operations import perform


def logs_to_stderr():
    """With --json, stdout carries the one JSON object a script parses: the
    log lines (JSON too, on stdout by default) move to stderr."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "stream", None) is sys.stdout:
            handler.setStream(sys.stderr)


class OpsCommand(BaseCommand):
    kind = ""

    def execute(self, *args, **options):
        if options.get("json"):
            logs_to_stderr()
        return super().execute(*args, **options)

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the result as one JSON object on stdout.",
        )

    def perform(self, options, **arguments):
        """Run this command's operation with `arguments`; report the result
        (its details, then its summary, or the JSON); a failed result or an
        OpsError exits non-zero with one line."""
        # The pool's reconnect warnings would bury that one line when the
        # database is down; the command reports the failure itself.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        try:
            result = perform(
                self.kind, trigger="command", echo=self.stderr.write, **arguments
            )
        except (OpsError, DatabaseError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if isinstance(exc, DatabaseError):
                # The database is down or refuses: nothing was recorded
                # either, and a traceback would say no more than this.
                message = f"the database is unavailable: {message}"
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": message}))
            raise CommandError(message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), default=str, sort_keys=True))
        else:
            for line in result.details():
                self.stdout.write(line)
            self.stdout.write(result.summary)
        if not result.ok:
            raise CommandError(result.summary)
        return result
