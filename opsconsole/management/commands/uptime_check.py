import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from opsconsole import uptime
from opsconsole.errors import OpsError


class Command(BaseCommand):
    help = (
        "Probe a running TinyLink from outside: /health/live, /health/ready, "
        "/health/full and optionally a short link (not followed). Prints a table "
        "per round; exits non-zero after --retries failed rounds in a row."
    )
    # A probe of another server: this host's own settings and database do
    # not decide whether it may run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", required=True, help="Base URL of the site, e.g. https://sho.rt"
        )
        parser.add_argument(
            "--code", help="A short code that must answer with a redirect."
        )
        parser.add_argument(
            "--retries",
            type=int,
            default=3,
            help="Failed rounds in a row before giving up (default 3).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            help="Seconds to wait for each answer (default 5).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="Seconds between rounds after a failed one (default 5).",
        )
        parser.add_argument(
            "--token",
            help="Bearer token for /health/full (default: $METRICS_TOKEN).",
        )

    def handle(self, *args, url, code, retries, timeout, interval, token, **options):
        if retries < 1 or timeout <= 0 or interval < 0:
            raise CommandError(
                "--retries must be at least 1, --timeout above 0, --interval 0 or more."
            )
        try:
            base = uptime.base_url(url)
        except OpsError as exc:
            raise CommandError(str(exc)) from exc
        token = token or settings.METRICS_TOKEN
        for attempt in range(1, retries + 1):
            probes = uptime.run_round(base, code=code, token=token, timeout=timeout)
            self.stdout.write(uptime.format_table(probes))
            failure = uptime.first_failure(probes)
            if failure is None:
                return
            if attempt < retries:
                self.stderr.write(
                    f"round {attempt} of {retries} failed ({failure}); "
                    f"again in {interval:g} s"
                )
                time.sleep(interval)
        raise CommandError(
            f"{base} failed {retries} round(s) in a row; last: {failure}"
        )
