"""Many links at once, for benchmarks and load tests (`manage.py seed_links`).

The codes are deterministic, a prefix and a counter of at least 7 digits
(seed0000000, seed0000001, …), so that a load generator can make valid codes
on its own without reading the database. A code that exists already is
skipped (ON CONFLICT DO NOTHING), never a crash: running the same seeding
twice inserts nothing the second time, and a larger count adds only the
missing links.

A million links must load in seconds, so this bypasses the ORM's per-object
work: one statement per batch of rows, in one transaction per batch.
PostgreSQL COPYs each batch into a temporary table and inserts from there
(COPY cannot skip conflicts itself); SQLite runs one executemany.
"""

import time
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django.utils import timezone

from links.codes import validate_short_code
from links.lookup import links_changed
from links.metrics import LINKS_CREATED
from links.models import Link

DEFAULT_PREFIX = "seed"
DIGITS = 7
BATCH_SIZE = 100_000


def seed_code(prefix, number):
    return f"{prefix}{number:0{DIGITS}d}"


def seed_target(prefix, number):
    return f"https://example.com/{prefix}/{number}"


def check_seed_prefix(prefix, count):
    """ValidationError unless every code of a seeding of `count` links with
    this prefix is a valid short code. Checking the first and the longest is
    enough: the prefix is fixed and the counter is only digits."""
    validate_short_code(seed_code(prefix, 0))
    validate_short_code(seed_code(prefix, count - 1))


@dataclass(frozen=True)
class SeedResult:
    prefix: str
    count: int
    inserted: int
    seconds: float

    @property
    def skipped(self):
        return self.count - self.inserted

    @property
    def summary(self):
        first = seed_code(self.prefix, 0)
        last = seed_code(self.prefix, self.count - 1)
        return (
            f"Inserted {self.inserted:,} links ({first} … {last}) in "
            f"{self.seconds:.1f} s; {self.skipped:,} existed already."
        )

    def as_dict(self):
        return {
            **asdict(self),
            "skipped": self.skipped,
            "first_code": seed_code(self.prefix, 0),
            "last_code": seed_code(self.prefix, self.count - 1),
        }


def seed_links(
    *, count, prefix=DEFAULT_PREFIX, owner=None, batch_size=BATCH_SIZE, progress=None
):
    """Make sure the links seed_code(prefix, 0 … count - 1) exist; returns a
    SeedResult. `progress(done, count)` is called after every batch.
    ValidationError when the prefix makes invalid codes."""
    if count < 1:
        raise ValueError("count must be 1 or more")
    check_seed_prefix(prefix, count)
    insert = _INSERTERS[connection.vendor]
    started = time.perf_counter()
    now = timezone.now()
    owner_id = owner.pk if owner is not None else None
    inserted = 0
    for start in range(0, count, batch_size):
        numbers = range(start, min(start + batch_size, count))
        with transaction.atomic():
            inserted += insert(prefix, numbers, now=now, owner_id=owner_id)
        if progress is not None:
            progress(numbers.stop, count)
    if connection.vendor == "postgresql":
        # Fresh planner statistics, as after any bulk load: without them the
        # table looks empty until autovacuum gets round to it.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_table()}")
    # Bulk inserts bypass Link.save(); they count as created here, and tell
    # the redirect's caches (a code looked up before may exist now).
    LINKS_CREATED.inc(inserted)
    if inserted:
        links_changed()
    return SeedResult(
        prefix=prefix,
        count=count,
        inserted=inserted,
        seconds=round(time.perf_counter() - started, 3),
    )


def _table():
    return connection.ops.quote_name(Link._meta.db_table)


def _insert_sql(source):
    # Only the quoted table name is interpolated; values go as parameters.
    return (
        f"INSERT INTO {_table()} (short_code, target_url, created_at, "
        "updated_at, click_count, is_active, owner_id) "
        f"{source} ON CONFLICT (short_code) DO NOTHING"
    )


def _insert_sqlite(prefix, numbers, *, now, owner_id):
    created = connection.ops.adapt_datetimefield_value(now)
    # A list, not a generator: django-prometheus's cursor counts the rows.
    rows = [
        (seed_code(prefix, n), seed_target(prefix, n), created, created, owner_id)
        for n in numbers
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_insert_sql("VALUES (%s, %s, %s, %s, 0, 1, %s)"), rows)
        # sqlite3 sums the rows each statement changed: skipped ones add 0.
        return cursor.rowcount


def _insert_postgresql(prefix, numbers, *, now, owner_id):
    with connection.cursor() as cursor:
        # Dropped at the end of the batch rather than ON COMMIT: inside an
        # outer transaction (tests) the next batch would find it still there.
        cursor.execute(
            "CREATE TEMPORARY TABLE tinylink_seed (short_code text, target_url text)"
        )
        # Django's cursor wraps psycopg's, whose COPY it passes through.
        with cursor.copy(
            "COPY tinylink_seed (short_code, target_url) FROM STDIN"
        ) as copy:
            for n in numbers:
                copy.write_row((seed_code(prefix, n), seed_target(prefix, n)))
        cursor.execute(
            _insert_sql(
                "SELECT short_code, target_url, %s, %s, 0, true, %s FROM tinylink_seed"
            ),
            [now, now, owner_id],
        )
        inserted = cursor.rowcount
        cursor.execute("DROP TABLE tinylink_seed")
    return inserted


_INSERTERS = {"sqlite": _insert_sqlite, "postgresql": _insert_postgresql}
