from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from opsconsole.models import OpsStatus
from opsconsole.worker import Worker, describe


class Command(BaseCommand):
    help = (
        "Run the operations queued in the admin and by the schedules (backup, "
        "restore test, integrity check, maintenance), one at a time. SIGTERM "
        "lets the current run finish, then exits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help=(
                "Queue the schedules that are due, run everything queued, then "
                "exit; non-zero if a run failed (for cron and tests)."
            ),
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help=(
                "How often to look for queued runs and due schedules (default "
                "5); the heartbeat is written at most every "
                "OPS_WORKER_HEARTBEAT_SECONDS."
            ),
        )

    def handle(self, *args, once, poll, **options):
        if poll <= 0:
            raise CommandError("--poll must be more than 0 seconds.")
        # While idle the heartbeat is written when the worker polls: a poll
        # this slow would make a live worker look stale between two.
        room = settings.OPS_WORKER_STALE_SECONDS - settings.OPS_WORKER_HEARTBEAT_SECONDS
        if not once and poll >= room:
            raise CommandError(
                f"--poll must be less than {room:g} seconds "
                "(OPS_WORKER_STALE_SECONDS - OPS_WORKER_HEARTBEAT_SECONDS), or the "
                "worker looks stale between polls."
            )
        worker = Worker(poll=poll, report=self.stdout.write)
        worker.stop_on_sigterm()
        if once:
            failed = [
                run for run in worker.run_once() if run.status != OpsStatus.SUCCEEDED
            ]
            if failed:
                raise CommandError(
                    f"{len(failed)} run(s) failed: "
                    + " ".join(describe(run) for run in failed)
                )
            return
        self.stdout.write(
            f"opsworker: waiting for runs (every {poll:g} s); SIGTERM stops it "
            "after the current run."
        )
        worker.run_forever()
        self.stdout.write("opsworker: stopped.")
