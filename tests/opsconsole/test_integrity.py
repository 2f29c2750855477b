"""check_integrity and `manage.py check_integrity`: every injected problem is
found and listed. The problems are written the way real damage arrives, past
the constraints that keep the application from writing them: raw SQL with
SQLite's checks off, PostgreSQL constraints dropped or replication-role
writes, and flipped bytes in a copy of the SQLite file."""

import io
import sqlite3
from contextlib import closing
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from links.models import Link, LinkDailyClicks
from opsconsole.integrity import check_integrity
from tests.opsconsole.helpers import (
    make_sample_data,
    manage_json,
    temporary_alias,
)

ON_SQLITE = connection.vendor == "sqlite"
ORPHAN_LINK_ID = 987654321
# (table, constraint, condition) of the checks that keep bad counts out.
PG_CHECKS = [
    ("links_link", "link_click_count_non_negative", "click_count >= 0"),
    (
        "links_link",
        "link_max_clicks_positive",
        "max_clicks IS NULL OR max_clicks >= 1",
    ),
    ("links_linkdailyclicks", "daily_clicks_non_negative", "clicks >= 0"),
]
INJECTED = {
    "negative click count": "neg",
    "click limit below 1": "limit0",
    "negative daily clicks": "negday",
    "daily clicks add up to more than the total": "over",
    "daily clicks of a link that does not exist": str(ORPHAN_LINK_ID),
    "invalid short code": "bad code!",
    "invalid target URL": "badtarget",
}


def _link(code, **fields):
    return Link.objects.create(
        short_code=code, target_url=f"https://example.com/{code}", **fields
    )


@pytest.fixture
def unchecked(transactional_db):
    """Run raw SQL that the schema's CHECK and FOREIGN KEY constraints would
    refuse: yields execute(sql, params)."""
    if ON_SQLITE:
        with closing(
            sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        ) as db:
            # A plain connection has foreign_keys off; checks go off too.
            db.execute("PRAGMA ignore_check_constraints = ON")
            yield lambda sql, params=(): db.execute(sql.replace("%s", "?"), params)
        return
    with connection.cursor() as cursor:
        for table, name, _ in PG_CHECKS:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")

    def execute(sql, params=()):
        with connection.cursor() as cursor:
            # Foreign keys are triggers, which the replica role does not fire.
            cursor.execute("SET session_replication_role = replica")
            try:
                cursor.execute(sql, params)
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")

    try:
        yield execute
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM links_linkdailyclicks")
            cursor.execute("DELETE FROM links_link")
            for table, name, condition in PG_CHECKS:
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition})"
                )


@pytest.fixture
def damaged(unchecked):
    """A database with one of each problem the invariants look for."""
    make_sample_data()
    for code in ("neg", "limit0", "badcode", "badtarget"):
        _link(code)
    negday = _link("negday", click_count=5)
    over = _link("over", click_count=2)
    for day, clicks in ((1, 2), (2, 3)):
        LinkDailyClicks.objects.create(link=over, day=date(2025, 1, day), clicks=clicks)
    LinkDailyClicks.objects.create(link=negday, day=date(2025, 1, 1), clicks=1)

    unchecked("UPDATE links_link SET click_count = -3 WHERE short_code = 'neg'")
    unchecked("UPDATE links_link SET max_clicks = 0 WHERE short_code = 'limit0'")
    unchecked(
        "UPDATE links_linkdailyclicks SET clicks = -1 WHERE link_id = %s",
        [negday.pk],
    )
    unchecked(
        "INSERT INTO links_linkdailyclicks (link_id, day, clicks) VALUES (%s, %s, 0)",
        [ORPHAN_LINK_ID, "2025-01-01"],
    )
    unchecked(
        "UPDATE links_link SET short_code = 'bad code!' WHERE short_code = 'badcode'"
    )
    unchecked(
        "UPDATE links_link SET target_url = 'javascript:alert(1)' "
        "WHERE short_code = 'badtarget'"
    )


def test_sound_data_passes(transactional_db):
    make_sample_data()
    result = check_integrity()
    assert result.ok, result.findings
    assert "negative click count" in result.checked
    out = io.StringIO()
    call_command("check_integrity", stdout=out, stderr=io.StringIO())
    assert "passed" in out.getvalue()


@pytest.mark.skipif(ON_SQLITE, reason="amcheck is PostgreSQL's")
def test_postgresql_says_whether_indexes_were_checked(transactional_db):
    notes = check_integrity().notes
    assert any(note.startswith("amcheck") for note in notes), notes


def test_every_injected_problem_is_found(damaged):
    findings = {f.check: f.detail for f in check_integrity().findings}

    for check, example in INJECTED.items():
        assert example in findings.pop(check), check
    if ON_SQLITE:
        assert "links_linkdailyclicks row" in findings.pop("foreign key")
    assert findings == {}


@pytest.mark.slow
def test_command_lists_every_finding_and_fails(damaged):
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"found \d+ problem"):
        call_command("check_integrity", stdout=out, stderr=io.StringIO())
    listed = [line for line in out.getvalue().splitlines() if line.startswith("FIND")]
    for check in INJECTED:
        assert any(line.startswith(f"FINDING {check}: ") for line in listed), check

    code, payload, _ = manage_json("check_integrity")
    assert code == 1
    assert payload["ok"] is False
    assert {f["check"] for f in payload["findings"]} >= set(INJECTED)
    assert len(payload["findings"]) == len(listed)


def _copy_of_the_database(tmp_path):
    """A self-contained copy of the test database (its WAL included)."""
    copy = tmp_path / "copy.db"
    with (
        closing(sqlite3.connect(connection.settings_dict["NAME"])) as source,
        closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
    return copy


def _index_root_page(path, column):
    """(page size, root page) of the full (not partial) links_link index on
    `column` alone."""
    with closing(sqlite3.connect(path)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        for _, index, _, _, partial in db.execute(
            "PRAGMA index_list(links_link)"
        ).fetchall():
            columns = [row[2] for row in db.execute(f"PRAGMA index_info({index})")]
            if columns == [column] and not partial:
                (root,) = db.execute(
                    "SELECT rootpage FROM sqlite_master WHERE name = ?", [index]
                ).fetchone()
                return page_size, root
    raise LookupError(f"no index on links_link.{column}")


@pytest.mark.slow
@pytest.mark.skipif(not ON_SQLITE, reason="SQLite's file format")
def test_a_flipped_bit_in_an_index_page_is_found_with_the_rest(damaged, tmp_path):
    # A copy, so the test database itself is never damaged.
    copy = _copy_of_the_database(tmp_path)
    page_size, root = _index_root_page(copy, "created_at")
    # So few rows make the root a leaf, which ends with a cell whose record
    # ends with its rowid: flip bits of that rowid.
    with open(copy, "r+b") as handle:
        handle.seek(root * page_size - 1)
        byte = handle.read(1)[0]
        handle.seek(root * page_size - 1)
        handle.write(bytes([byte ^ 0x55]))

    code, payload, stderr = manage_json(
        "check_integrity", env={"DATABASE_URL": f"sqlite:///{copy}"}
    )

    assert code == 1, stderr
    checks = {f["check"]: f["detail"] for f in payload["findings"]}
    assert "missing from index" in checks["sqlite integrity_check"]
    assert set(INJECTED) <= set(checks)


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite's file format")
def test_a_garbled_index_page_is_reported_not_raised(transactional_db, tmp_path):
    make_sample_data()
    copy = _copy_of_the_database(tmp_path)
    page_size, root = _index_root_page(copy, "short_code")
    with open(copy, "r+b") as handle:
        handle.seek((root - 1) * page_size + 12)
        handle.write(b"\xde\xad\xbe\xef" * 256)

    with temporary_alias("damaged_copy", NAME=str(copy)):
        result = check_integrity(alias="damaged_copy")

    assert result.findings[0].check == "sqlite integrity_check"
