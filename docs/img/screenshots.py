"""The README's screenshots (docs/img/*.png), made again: `make screenshots`.

A throwaway SQLite database, data and backup directory in a temporary
directory; demo data written through the models (seed_demo) and the real
operations (a backup and a restore test, as `manage.py` runs them); the real
gunicorn entry point; Debian's Chromium driven by Playwright (never a
downloaded browser). Codes, targets and click counts are fixed; dates are
relative to today, so only they change from one run to the next.

    .venv/bin/python docs/img/screenshots.py [--out DIR] [--keep]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "demo password 1"  # noqa: S105 - a throwaway database's
# Short URLs shown as PUBLIC_BASE_URL, not the server's random local port.
PUBLIC_BASE_URL = "https://sho.rt"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CLICK_DAYS = 14

# code: (target, days since created, what happens to it). The owner's list
# shows the newest first, so the order here is the list's, bottom to top.
DEMO_LINKS = {
    "handbook": (
        "https://example.com/documentation/getting-started/"
        "installation-guide-for-self-hosted-deployments",
        30,
        {"clicks": 310},
    ),
    "old-page": (
        "https://example.com/legacy/page",
        27,
        {"clicks": 545, "deactivated": True, "quiet_days": 3},
    ),
    "webinar": (
        "https://events.example.org/2026/webinar-replay",
        21,
        {"clicks": 188, "expired_days_ago": 2},
    ),
    "beta": (
        "https://beta.example.com/signup",
        16,
        {"clicks": 50, "max_clicks": 50, "quiet_days": 4},
    ),
    "launch": (
        "https://blog.example.net/2026/11/announcing-tinylink",
        12,
        {"clicks": 646},
    ),
    "promo": (
        "https://shop.example.org/campaigns/winter?utm_source=newsletter"
        "&utm_medium=email",
        9,
        {"clicks": 412, "max_clicks": 1000, "expires_in_days": 20},
    ),
    "survey": (
        "https://forms.example.com/customer-survey-2026",
        5,
        {"clicks": 37, "expires_in_days": 7},
    ),
    "jobs": ("https://careers.example.com/open-positions", 1, {"clicks": 0}),
}


def configure(workdir):
    """Point Django at a fresh database and directories in `workdir` (before
    django.setup(): settings read the environment once) and migrate."""
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'demo.db'}",
            "DATA_DIR": str(workdir / "data"),
            "BACKUP_DIR": str(workdir / "backups"),
            "BACKUP_STAGING_DIR": str(workdir / "backup-staging"),
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def _daily_clicks(total, first, last, rng):
    """`total` clicks spread over the days from `first` to `last` (at most
    the last CLICK_DAYS of them), weighted so that a chart has some shape;
    the last day has at least one. Returns [(day, clicks)]."""
    days = [
        last - timedelta(days=back)
        for back in range(min(CLICK_DAYS, (last - first).days + 1))
    ]
    if not total:
        return []
    weights = [rng.uniform(0.3, 1.0) * (1.6 if d.weekday() < 5 else 0.7) for d in days]
    shares = [int(total * w / sum(weights)) for w in weights]
    shares[0] = max(shares[0], 1)
    shares[-1] += total - sum(shares)
    return [(day, clicks) for day, clicks in zip(days, shares, strict=True) if clicks]


def seed_demo(*, now=None, password=PASSWORD):
    """Alice with DEMO_LINKS in every state and their clicks per day, and a
    superuser "admin"; all through the models. Returns {code: Link}."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from links.models import Link, LinkDailyClicks

    now = now or timezone.now()
    rng = random.Random(15)  # noqa: S311 - the same chart shapes every run
    users = get_user_model().objects
    links = {}
    with transaction.atomic():
        alice = users.create_user("alice", "alice@example.com", password)
        users.create_superuser("admin", "admin@example.com", password)
        for code, (target, age_days, plan) in DEMO_LINKS.items():
            created = now - timedelta(days=age_days, hours=age_days % 5)
            expires = plan.get("expires_in_days")
            link = Link.objects.create_link(
                target_url=target,
                short_code=code,
                owner=alice,
                max_clicks=plan.get("max_clicks"),
                expires_at=now + timedelta(days=expires) if expires else None,
            )
            changes = {"created_at": created, "click_count": plan["clicks"]}
            # The last click before the link stopped taking any (expiry,
            # deactivation, its click limit), and the days of clicks up to it.
            last_click = now - timedelta(
                days=plan.get("quiet_days", 0), hours=rng.randint(1, 6)
            )
            if "expired_days_ago" in plan:
                changes["expires_at"] = now - timedelta(days=plan["expired_days_ago"])
                last_click = changes["expires_at"] - timedelta(hours=rng.randint(1, 6))
            daily = _daily_clicks(
                plan["clicks"], created.date(), last_click.date(), rng
            )
            LinkDailyClicks.objects.bulk_create(
                LinkDailyClicks(link=link, day=day, clicks=clicks)
                for day, clicks in daily
            )
            if daily:
                changes["last_access_at"] = last_click
            if plan.get("deactivated"):
                changes["is_active"] = False
            Link.objects.filter(pk=link.pk).update(**changes)
            link.refresh_from_db()
            links[code] = link
    return links


def run_operations():
    """A backup and a restore test as `manage.py` runs them, the schedules
    armed and a worker's heartbeat, as a running `manage.py opsworker` would
    leave them: the Operations page's content."""
    import io

    from django.core.management import call_command
    from django.db import connection

    from opsconsole.worker import Worker, arm_new_schedules

    call_command("backup", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("restore_test", "--latest", stdout=io.StringIO(), stderr=io.StringIO())
    arm_new_schedules()
    Worker().beat()
    # The last connection to close checkpoints SQLite's write-ahead log: the
    # page shows the database's size, not a fresh file beside a large WAL.
    connection.close()


def _sign_in(page, username, *, admin=False):
    page.goto("/admin/login/?next=/admin/" if admin else "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in" if admin else "Sign in").click()
    page.wait_for_load_state()


def _snap(page, path, **options):
    """A screenshot once every image has loaded: the QR codes load lazily,
    and a full-page shot does not scroll them into view."""
    page.evaluate(
        "() => Promise.all([...document.images].map(image => {"
        " image.loading = 'eager';"
        " return image.decode().catch(() => null); }))"
    )
    page.screenshot(path=path, **options)


def shoot(browser, base_url, out):
    """The eight pictures the README shows, into `out`."""
    from opsconsole.worker import Worker

    def new_page(viewport):
        return browser.new_context(base_url=base_url, viewport=viewport).new_page()

    owner = new_page(DESKTOP)
    _sign_in(owner, "alice")
    owner.goto("/links/")
    _snap(owner, out / "my-links.png", full_page=True)
    owner.goto("/links/launch/")
    _snap(owner, out / "link-detail.png", full_page=True)
    owner.goto("/links/")
    owner.get_by_label("Long URL").fill("htps//example.com/spring sale")
    owner.get_by_label("Custom code").fill("spring")
    owner.get_by_role("button", name="Create short link").click()
    owner.wait_for_load_state()
    _snap(owner, out / "error-bar.png")
    owner.goto("/webinar")
    # The page's few lines, without the empty rest of the window.
    _snap(owner, out / "gone-410.png", clip={**DESKTOP, "x": 0, "y": 0, "height": 320})

    # On a phone the create form fills the first screen; the list's cards
    # are what changes with the width.
    phone = new_page(PHONE)
    _sign_in(phone, "alice")
    phone.goto("/links/")
    phone.evaluate("document.getElementById('list-heading').scrollIntoView()")
    _snap(phone, out / "my-links-phone.png")

    admin = new_page(DESKTOP)
    _sign_in(admin, "admin", admin=True)
    admin.goto("/admin/")
    _snap(admin, out / "admin-index.png", full_page=True)
    admin.goto("/admin/links/link/")
    _snap(admin, out / "admin-links.png", full_page=True)
    Worker().beat()  # fresh, whatever the pages before took
    admin.goto("/admin/opsconsole/opsrun/operations/")
    _snap(admin, out / "admin-operations.png", full_page=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="Where the PNGs go.")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary directory."
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="tinylink-screenshots-"))
    try:
        configure(workdir)
        seed_demo()
        run_operations()
        # The server's database is this script's: the tests' helper reads
        # the connection's settings, as it does for a test database.
        from playwright.sync_api import sync_playwright

        from tests.servers import GunicornServer

        server = GunicornServer(workdir, workers=1, threads=8)
        server.start()
        try:
            # Playwright's sync API runs an event loop on this thread; the ORM
            # writes between pages (the heartbeat) are synchronous all the same.
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
                )
                args.out.mkdir(parents=True, exist_ok=True)
                shoot(browser, server.url, args.out)
                browser.close()
        finally:
            server.stop()
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"Wrote 8 screenshots to {args.out}")


if __name__ == "__main__":
    main()
