"""What every data-operation command shares: --json, progress on stderr,
recording the run, and OpsError → CommandError (one line, non-zero exit)."""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from opsconsole.errors import OpsError
from opsconsole.runs import recorded_run


def human_bytes(value):
    if value is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


class OpsCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the result as one JSON object on stdout.",
        )

    def progress(self, done, total):
        """Progress lines on stderr, at most one a second."""
        now = time.monotonic()
        if now - getattr(self, "_last_progress", 0) < 1:
            return
        self._last_progress = now
        if isinstance(done, str):
            line = f"  … {done}"
        elif total:
            line = f"  … {human_bytes(done)} of {human_bytes(total)}"
        else:
            line = f"  … {human_bytes(done) if done > 10_000 else done}"
        self.stderr.write(line)
        if self._recorder:
            self._recorder.log(line)

    def run_operation(self, options, operation):
        """operation(recorder) → (summary, payload dict, artifact or None)."""
        self._recorder = None
        trigger = options.get("trigger") or "command"
        try:
            with recorded_run(
                self.kind, trigger=trigger, options=self.recorded_options(options)
            ) as recorder:
                self._recorder = recorder
                summary, payload, artifact = operation(recorder)
                recorder.finish(summary=summary, result=payload, artifact=artifact)
                failed = payload.get("ok") is False
                if failed:
                    recorder.run.status = "failed"
        except OpsError as exc:
            self.report({"ok": False, "error": str(exc)}, options, error=True)
            raise CommandError(str(exc)) from exc
        self.report(payload, options, summary=summary)
        if failed:
            raise CommandError(summary)
        return payload

    def recorded_options(self, options):
        keep = {
            "json",
            "verbosity",
            "settings",
            "pythonpath",
            "traceback",
            "no_color",
            "force_color",
            "skip_checks",
            "trigger",
        }
        return {k: v for k, v in options.items() if k not in keep and _jsonable(v)}

    def report(self, payload, options, summary=None, error=False):
        if options.get("json"):
            self.stdout.write(json.dumps(payload, default=str, sort_keys=True))
        elif summary and not error:
            self.stdout.write(summary)


def _jsonable(value):
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


__all__ = ["CommandError", "OpsCommand", "human_bytes"]
