"""The worker half of bench/admin_changelist.py: candidate indexes, loading
links, and timing admin pages. Runs inside Django, pointed at the throwaway
database. Not part of the test suite."""

import random
import statistics
import sys
import time
from datetime import timedelta

USERS = 1_000
# Every DAILY_CLICK_EVERY-th link gets a counter row for each of the last
# DAILY_CLICK_DAYS days: 600,000 rows for a million links, of which the
# summary's last seven days are a twentieth, as in a table with history.
DAILY_CLICK_DAYS = 120
DAILY_CLICK_EVERY = 200
# Pages slower than this get fewer timed runs, to keep a run near 10 minutes.
SLOW_PAGE_MS = 1000
SLOW_PAGE_RUNS = 2
CLICK_UPDATES = 2000


def candidate_indexes(vendor):
    """(model name, Index or SQL) for the indexes docs/performance.md
    discusses, built as a migration would build them, to show what each buys."""
    from django.db.models import Index, Q

    candidates = [
        ("LinkDailyClicks", Index(fields=["day"], name="daily_clicks_day")),
        (
            "Link",
            Index(
                fields=["-created_at"],
                condition=Q(is_active=False),
                name="link_inactive_created",
            ),
        ),
        # Expiry sorted either way, ties (the NULLs) broken by id from the
        # index itself; would replace expires_at's db_index.
        ("Link", Index(fields=["expires_at", "id"], name="link_expires_id")),
        # Rejected in docs/performance.md: every click would update them.
        ("Link", Index(fields=["-click_count"], name="link_click_count")),
        ("Link", Index(fields=["-last_access_at"], name="link_last_access")),
    ]
    if vendor == "postgresql":
        # Trigram indexes for the admin search, on the expression Django's
        # icontains compares: UPPER(column::text) LIKE UPPER('%term%'). Raw
        # SQL, as Django renders OpClass wrongly without django.contrib.postgres
        # in INSTALLED_APPS (ticket #32770).
        candidates += [
            (
                "Link",
                f"CREATE INDEX link_{column}_trgm ON links_link "
                f"USING gin ((UPPER({column}::text)) gin_trgm_ops)",
            )
            for column in ("short_code", "target_url")
        ]
    return candidates


def _sql_now_plus(vendor, seconds_sql):
    if vendor == "postgresql":
        return f"now() + ({seconds_sql}) * interval '1 second'"
    return f"strftime('%Y-%m-%d %H:%M:%S', 'now', ({seconds_sql}) || ' seconds')"


def _link_columns_sql(vendor, first_user):
    """SELECT list for link number g: ~1% inactive, ~10% expired, ~2% with
    a click limit (most of them used up), a fifth without owner."""
    true, false = ("true", "false") if vendor == "postgresql" else ("1", "0")
    created = _sql_now_plus(vendor, "-30 * g")
    expired = _sql_now_plus(vendor, "-3600 - (g % 30) * 86400 - g")
    expiring = _sql_now_plus(vendor, "86400 * (1 + g % 60) + g")
    accessed = _sql_now_plus(vendor, "-(g % 100000)")
    return f"""
        'b' || g,
        'https://example.com/page/' || g || '?utm_source=bench&utm_campaign=c'
            || (g % 1000),
        {created},
        {created},
        CASE WHEN g % 10 = 0 THEN {expired}
             WHEN g % 10 IN (1, 2) THEN {expiring}
        END,
        CASE WHEN g % 50 = 3 THEN 100 END,
        ((g % 1000) * 7919) % 1000,
        CASE WHEN ((g % 1000) * 7919) % 1000 > 0 THEN {accessed} END,
        CASE WHEN g % 97 = 0 THEN {false} ELSE {true} END,
        CASE WHEN g % 5 = 0 THEN NULL ELSE {first_user} + g % {USERS} END
    """


LINK_COLUMNS = (
    "short_code, target_url, created_at, updated_at, expires_at, max_clicks, "
    "click_count, last_access_at, is_active, owner_id"
)


def insert_links(connection, first, last, first_user):
    """Links number first..last in one statement (ids equal the numbers in
    a fresh database), then the daily click counters of every
    DAILY_CLICK_EVERY-th of them."""
    vendor = connection.vendor
    if vendor == "postgresql":
        series = f"generate_series({first}, {last}) AS s(g)"
        days = f"generate_series(0, {DAILY_CLICK_DAYS - 1}) AS d(n)"
        day_sql = "current_date - d.n"
    else:
        series = (
            f"(WITH RECURSIVE s(g) AS (SELECT {first} UNION ALL "
            f"SELECT g + 1 FROM s WHERE g < {last}) SELECT g FROM s)"
        )
        days = (
            f"(WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL "
            f"SELECT n + 1 FROM d WHERE n < {DAILY_CLICK_DAYS - 1}) SELECT n FROM d) d"
        )
        day_sql = "date('now', '-' || d.n || ' days')"
    columns = _link_columns_sql(vendor, first_user)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO links_link ({LINK_COLUMNS}) SELECT {columns} FROM {series}"
        )
        cursor.execute(
            "INSERT INTO links_linkdailyclicks (link_id, day, clicks) "
            f"SELECT g, {day_sql}, (g + d.n) % 50 + 1 FROM {series}, {days} "
            f"WHERE g % {DAILY_CLICK_EVERY} = 0"
        )


def analyse(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # VACUUM as autovacuum would: statistics and the visibility map.
            cursor.execute("VACUUM ANALYZE links_link")
            cursor.execute("VACUUM ANALYZE links_linkdailyclicks")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def median_ms(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def timed_request(client, connection, url):
    """(wall ms, database ms, [(sql, ms)]) of one GET."""
    queries = []

    def timed_execute(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, (time.perf_counter() - started) * 1000))

    with connection.execute_wrapper(timed_execute):
        started = time.perf_counter()
        response = client.get(url)
        wall = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return wall, sum(ms for _, ms in queries), queries


def click_update_ms(connection, links):
    """Median time of the redirect's counter UPDATE (as links.clicks does it),
    one autocommitted statement per click on a random link."""
    from django.utils import timezone

    picker = random.Random(42)
    times = []
    with connection.cursor() as cursor:
        for _ in range(CLICK_UPDATES):
            started = time.perf_counter()
            cursor.execute(
                "UPDATE links_link SET click_count = click_count + 1, "
                "last_access_at = %s WHERE id = %s",
                [timezone.now(), picker.randint(1, links)],
            )
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def page_urls(links, owner_id, link_pk):
    from django.utils import timezone

    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    week = (
        f"created_at__gte={(today - timedelta(days=7)).date()}+00:00:00%2B00:00"
        f"&created_at__lt={(today + timedelta(days=1)).date()}+00:00:00%2B00:00"
    )
    cl = "/admin/links/link/"
    middle_page = max(links // 100 // 2, 1)
    # The o= numbers count list_display columns after the action checkbox.
    return {
        "changelist": cl,
        "middle page": f"{cl}?p={middle_page}",
        "search code": f"{cl}?q=b{links // 3 + 7}",
        "search target": f"{cl}?q=page/{links // 2 + 11}%3Futm",
        "search no match": f"{cl}?q=nomatchzz",
        "state active": f"{cl}?state=active",
        "state expired": f"{cl}?state=expired",
        "state exhausted": f"{cl}?state=exhausted",
        "state inactive": f"{cl}?state=inactive",
        "owner one": f"{cl}?owner={owner_id}",
        "owner none": f"{cl}?owner=none",
        "created past 7 days": f"{cl}?{week}",
        "order clicks desc": f"{cl}?o=-4",
        "order last access desc": f"{cl}?o=-5",
        "order expiry": f"{cl}?o=6",
        "order expiry desc": f"{cl}?o=-6",
        "change page": f"{cl}{link_pk}/change/",
        "admin index": "/admin/",
    }


def time_pages(client, connection, urls, runs):
    pages = {}
    for name, url in urls.items():
        warm_up, _, queries = timed_request(client, connection, url)
        slowest_sql, _ = max(queries, key=lambda q: q[1])
        page_runs = min(runs, SLOW_PAGE_RUNS) if warm_up > SLOW_PAGE_MS else runs
        samples = [timed_request(client, connection, url) for _ in range(page_runs)]
        pages[name] = {
            "url": url,
            "queries": len(queries),
            "median_ms": statistics.median(wall for wall, _, _ in samples),
            "db_median_ms": statistics.median(db for _, db, _ in samples),
            "slowest_sql": " ".join(slowest_sql.split()),
        }
        print(
            f"    {name}: {pages[name]['median_ms']:.1f} ms, "
            f"database {pages[name]['db_median_ms']:.1f} ms",
            file=sys.stderr,
        )
    return pages
