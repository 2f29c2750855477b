"""What every data-operation command shares: --json, progress on stderr, the
operation run through the registry (and so recorded), and OpsError →
CommandError (one line, non-zero exit)."""

import json

from django.core.management.base import BaseCommand, CommandError

from opsconsole.errors import OpsError
from opsconsole.operations import perform


class OpsCommand(BaseCommand):
    kind = ""

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
        try:
            result = perform(
                self.kind, trigger="command", echo=self.stderr.write, **arguments
            )
        except OpsError as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": str(exc)}))
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), default=str, sort_keys=True))
        else:
            for line in result.details():
                self.stdout.write(line)
            self.stdout.write(result.summary)
        if not result.ok:
            raise CommandError(result.summary)
        return result
