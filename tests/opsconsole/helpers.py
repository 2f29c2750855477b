"""What the backup, restore and integrity tests share: a checksum of the data,
fast bulk rows, damaged artifacts and `manage.py` in a subprocess."""

import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.utils import load_backend
from django.utils import timezone

from links.models import Link, LinkDailyClicks
from opsconsole.backups.catalog import list_backups
from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import BACKUP, FORMAT, sign
from tests.servers import ROOT, database_url

CHECKED_TABLES = ("auth_user", "links_link", "links_linkdailyclicks")


def data_checksum(tables=CHECKED_TABLES):
    """sha256 of every row of `tables`, in primary-key order."""
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")
            digest.update(table.encode())
            for row in cursor.fetchall():
                digest.update(repr(row).encode())
    return digest.hexdigest()


def make_sample_data():
    """Two users, a few links with daily clicks: something in every checked
    table, with NULLs, dates and non-ASCII text."""
    users = get_user_model()
    alice = users.objects.create_user("alice", "alice@example.com", "pw-alice-1")
    bob = users.objects.create_user("bob", first_name="Bøb", password="pw-bob-1")
    today = date(2025, 3, 1)
    links = []
    for number, owner in enumerate([alice, alice, bob, None]):
        link = Link.objects.create(
            short_code=f"code{number}",
            target_url=f"https://example.com/{number}/ünï",
            owner=owner,
            max_clicks=100 if number == 1 else None,
            expires_at=timezone.now() + timedelta(days=number) if number else None,
            click_count=10 * number,
        )
        for day in range(number):
            LinkDailyClicks.objects.create(
                link=link, day=today - timedelta(days=day), clicks=number
            )
        links.append(link)
    return links


def add_links(count, prefix, target_size=40):
    """Insert `count` links `<prefix>1 … <prefix>count` in one statement; a
    recursive CTE works alike on SQLite and PostgreSQL and is far faster than
    any ORM insert."""
    target = "https://example.com/" + "x" * max(0, target_size - 20) + "/"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO links_link (short_code, target_url, created_at, "
            "updated_at, click_count, is_active) "
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            "WHERE n < %s) "
            "SELECT %s || CAST(n AS VARCHAR(20)), %s || CAST(n AS VARCHAR(20)), "
            "%s, %s, 0, %s FROM seq",
            [count, prefix, target, timezone.now(), timezone.now(), True],
        )


def write_backup(backup_dir, *, hours_ago=0.0, ok=True, purpose=BACKUP, name=None):
    """A backup as the listing sees it: a file and its signed manifest, made
    `hours_ago` hours ago. Its content is not a database: status never reads
    it (verifying a backup is the restore test's work)."""
    created = datetime.now(UTC) - timedelta(hours=hours_ago)
    backup_dir.mkdir(exist_ok=True)
    artifact = backup_dir / (
        name or f"tinylink-sqlite-{created:%Y%m%dT%H%M%S%fZ}.sqlite3"
    )
    artifact.write_bytes(b"backup bytes " * (1 + int(hours_ago)))
    problems = [] if ok else ["row 3 missing from index links_link_short_code"]
    manifest = {
        "format": FORMAT,
        "purpose": purpose,
        "created_at": created.isoformat(),
        "integrity": {"ok": ok, "problems": problems},
        "artifact": {
            "name": artifact.name,
            "size": artifact.stat().st_size,
            "sha256": sha256_of(artifact),
        },
    }
    manifest_path(artifact).write_text(json.dumps(sign(manifest)))
    return artifact


def write_drill(artifact, *, passed=True, hours_ago=0.0, rto_seconds=1.25):
    """The signed record a restore drill leaves beside the backup it loaded."""
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    record = {
        "passed": passed,
        "at": at.isoformat(),
        "rto_seconds": rto_seconds,
        "problems": [] if passed else ["row counts differ from the manifest"],
        "sha256": sha256_of(artifact),
    }
    Path(f"{artifact}.drill.json").write_text(json.dumps(sign(record)))
    return at


def flip_byte(path, offset=None):
    """XOR one byte (by default one in the middle) of a file."""
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path, keep_fraction=0.5):
    with open(path, "r+b") as handle:
        handle.truncate(int(path.stat().st_size * keep_fraction))


def subprocess_env(**extra):
    """The environment of a process that works on the test database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "BACKUP_DIR": str(settings.BACKUP_DIR),
        "BACKUP_STAGING_DIR": str(settings.BACKUP_STAGING_DIR),
        "CLICK_HOLD_CHECK_SECONDS": str(settings.CLICK_HOLD_CHECK_SECONDS),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }


def manage(*args, timeout=120, env=None, **kwargs):
    """Run `manage.py ARGS` against the test database (or as `env` says);
    CompletedProcess."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def manage_json(*args, **kwargs):
    """`manage.py ARGS --json`: (exit code, parsed stdout, stderr)."""
    result = manage(*args, "--json", **kwargs)
    return result.returncode, json.loads(result.stdout), result.stderr


@contextmanager
def temporary_alias(alias, **overrides):
    """A connection like the test database's (e.g. on another file) under
    `alias`. Kept out of connections.settings: Django's test cases refuse
    connections to configured aliases they did not set up."""
    settings_dict = {**connection.settings_dict, **overrides}
    backend = load_backend(settings_dict["ENGINE"])
    connections[alias] = backend.DatabaseWrapper(settings_dict, alias)
    try:
        yield connections[alias]
    finally:
        connections[alias].close()
        del connections[alias]


def wait_for(condition, *, timeout, interval=0.005, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def error_line(stderr):
    """The one line a failed command printed (Django prefixes CommandError);
    progress lines and notes may come before it."""
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("  … ", "note: "))
    ]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("CommandError: "), stderr
    return lines[0]


def listed(directory=None):
    """[(local path, manifest)] of the complete backups in the (local) store,
    newest first; `directory`, when given, must be the store's."""
    backups = list_backups()
    if directory is not None:
        assert Path(directory) == Path(settings.BACKUP_DIR), directory
    return [(backup.path, backup.manifest) for backup in backups]


def manifest_path(artifact):
    return Path(f"{artifact}.manifest.json")
