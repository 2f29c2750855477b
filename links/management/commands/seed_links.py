import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from links.auth import UnknownUser, find_user
from links.seeding import DEFAULT_PREFIX, seed_links


class Command(BaseCommand):
    help = (
        "Insert N links for benchmarks, with the codes PREFIX0000000, "
        "PREFIX0000001, … and targets https://example.com/PREFIX/<n>. Codes that "
        "exist already are skipped: a second run inserts only what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count", type=int, required=True, metavar="N", help="Links to seed."
        )
        parser.add_argument(
            "--owner", metavar="USER", help="Owner of the links (default: none)."
        )
        parser.add_argument(
            "--prefix",
            default=DEFAULT_PREFIX,
            help=f"Start of every code (default: {DEFAULT_PREFIX}).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the result as JSON."
        )

    def handle(self, *args, count, owner, prefix, verbosity, **options):
        if count < 1:
            raise CommandError("--count must be 1 or more.")
        try:
            user = find_user(owner) if owner else None
        except UnknownUser as exc:
            raise CommandError(str(exc)) from exc
        show_progress = verbosity >= 1 and not options["json"]
        try:
            result = seed_links(
                count=count,
                prefix=prefix,
                owner=user,
                progress=self._progress if show_progress else None,
            )
        except ValidationError as exc:
            raise CommandError(
                f"--prefix {prefix!r} does not make valid codes: {exc.messages[0]}"
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            self.stdout.write(result.summary)

    def _progress(self, done, count):
        if done < count:
            self.stdout.write(f"{done:,} of {count:,} links seeded…")
