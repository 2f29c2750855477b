from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from links.auth import UnknownUser, find_user, issue_token


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it as the last line. "
        "It is shown only this once: only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the token acts as.")
        parser.add_argument(
            "--expires-days",
            type=int,
            metavar="N",
            help="Expire the token after N days (default: never).",
        )
        parser.add_argument("--name", default="", help="A label shown in the admin.")

    def handle(self, *args, username, expires_days, name, **options):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be 1 or more.")
        try:
            user = find_user(username)
        except UnknownUser as exc:
            raise CommandError(str(exc)) from exc
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        expires_in = timedelta(days=expires_days) if expires_days else None
        token, key = issue_token(user, name=name, expires_in=expires_in)
        until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if expires_in else ""
        self.stdout.write(
            f"Created token {token.key_prefix}… for {username} {until}. "
            "Store it now; it cannot be shown again."
        )
        self.stdout.write(key)
