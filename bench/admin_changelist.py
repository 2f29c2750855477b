"""Times the links admin on a million links, on PostgreSQL and on SQLite.

    .venv/bin/python bench/admin_changelist.py                  # both engines
    .venv/bin/python bench/admin_changelist.py --engine sqlite --links 200000

For each engine it creates a throwaway database (PostgreSQL: CREATE DATABASE
tinylink_bench_<pid> on --pg-url; SQLite: a file in a temporary directory),
runs `manage.py migrate` there, and starts a worker process pointed at it. The
worker loads 1,000 links, times every admin page, loads the rest, times them
again, then adds the candidate indexes (candidate_indexes()) and times them a
third time. The database is dropped however the run ends.

Machines are noisy, so next to the medians it prints ratios to a baseline of
the same run: the plain change list at 1,000 links. Not part of the test suite.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = 1_000
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine",
        choices=["postgresql", "sqlite", "both"],
        default="both",
        help="which database engine(s) to measure (default: both)",
    )
    parser.add_argument(
        "--links",
        type=int,
        default=1_000_000,
        help="links in the large phase (default: 1,000,000)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed requests per page (default: 3)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name (default: $PG_URL or "
        "postgres://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--json", dest="json_path", help="also write the raw results to this file"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the parent: databases and processes ----------------------------------------


def _pg_admin(pg_url, statement):
    import psycopg

    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def measure_engine(engine, args):
    env = {**os.environ, "ALLOWED_HOSTS": "testserver", "LOG_LEVEL": "WARNING"}
    tmpdir = None
    if engine == "postgresql":
        name = f"tinylink_bench_{os.getpid()}"
        _pg_admin(args.pg_url, f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = f"{args.pg_url}/{name}"
    else:
        tmpdir = tempfile.mkdtemp(prefix="tinylink_bench_")
        env["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.db"
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        worker = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                f"--links={args.links}",
                f"--runs={args.runs}",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        return json.loads(worker.stdout.strip().splitlines()[-1])
    finally:
        if engine == "postgresql":
            _pg_admin(args.pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)


def print_report(engine, result):
    phases = result["phases"]
    small, large, indexed = phases["small"], phases["large"], phases["indexed"]
    base = small["pages"]["changelist"]["median_ms"]
    n = result["links"]
    print(f"\n=== {engine}: {result['version']}, {n:,} links ===")
    print(
        f"baseline (×1.00): change list at {SMALL:,} links = {base:.1f} ms; "
        f"SELECT 1 round trip = {result['select_1_ms']:.3f} ms"
    )
    print(
        f"COUNT(*) of links_link: {large['count_ms']:.1f} ms at {n:,} links, "
        f"{small['count_ms']:.2f} ms at {SMALL:,}; "
        f"table estimate query: {large['estimate_ms']:.2f} ms"
    )
    for key, label, digits in [
        ("summary_ms", "admin index summary, computed (cached for a minute)", 1),
        ("recent_clicks_ms", "  of which the clicks of the last 7 days", 1),
        ("click_update_ms", "redirect counter UPDATE", 3),
    ]:
        print(
            f"{label}: {small[key]:.{digits}f} ms at {SMALL:,}, "
            f"{large[key]:.{digits}f} ms at {n:,}, "
            f"{indexed[key]:.{digits}f} ms with the candidate indexes"
        )
    print(
        "columns: median page time (ms) and its ratio to the baseline, and the "
        "median time spent in the database (db)"
    )
    header = (
        f"{'page':<23}{'queries':>7}{'1k ms':>8}{'1k db':>7}"
        f"{'big ms':>8}{'×':>6}{'big db':>8}{'+idx ms':>9}{'×':>6}{'+idx db':>8}"
    )
    print(header)
    print("-" * len(header))
    for page, big in large["pages"].items():
        one_k = small["pages"][page]
        idx = indexed["pages"][page]
        print(
            f"{page:<23}{big['queries']:>7}"
            f"{one_k['median_ms']:8.1f}{one_k['db_median_ms']:7.1f}"
            f"{big['median_ms']:8.1f}{big['median_ms'] / base:6.2f}"
            f"{big['db_median_ms']:8.1f}"
            f"{idx['median_ms']:9.1f}{idx['median_ms'] / base:6.2f}"
            f"{idx['db_median_ms']:8.1f}"
        )
    print(f"slowest query per page at {n:,} links, before the candidate indexes:")
    for page, big in large["pages"].items():
        print(f"  {page:<23}{big['slowest_sql'][:100]}")
    print(
        f"loading the links took {result['load_s']:.0f} s, "
        f"the candidate indexes {indexed['index_build_s']:.0f} s:"
    )
    for sql in indexed["indexes"]:
        print(f"  {sql}")


def run_parent(args):
    engines = ["postgresql", "sqlite"] if args.engine == "both" else [args.engine]
    results = {}
    for engine in engines:
        started = time.perf_counter()
        print(f"--- {engine}: building {args.links:,} links ...", file=sys.stderr)
        results[engine] = measure_engine(engine, args)
        results[engine]["wall_s"] = time.perf_counter() - started
        print_report(engine, results[engine])
        print(f"({engine} took {results[engine]['wall_s']:.0f} s in all)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))


# --- the worker: Django pointed at the throwaway database -------------------------


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


def run_worker(args):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    from links.admin_changelist import estimated_row_count
    from links.models import Link, LinkDailyClicks
    from links.templatetags.link_admin import compute_summary, recent_clicks

    # The manifest storage needs collectstatic; the admin only links files.
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        }
    ).enable()
    user_model = get_user_model()
    admin = user_model.objects.create_superuser("bench-admin", password=None)
    user_model.objects.bulk_create(
        user_model(username=f"bench-user-{n}") for n in range(USERS)
    )
    first_user = user_model.objects.exclude(pk=admin.pk).order_by("pk").first().pk
    client = Client()
    client.force_login(admin)

    def select_1():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    result = {
        "links": args.links,
        "version": f"{connection.vendor} {connection.Database.__name__} "
        + ".".join(map(str, connection.get_database_version())),
        "select_1_ms": median_ms(select_1, 500),
        "phases": {},
    }

    def phase(name):
        print(f"  {name}: {Link.objects.count():,} links", file=sys.stderr)
        links = Link.objects.count()
        link = Link.objects.order_by("pk")[links // 2]
        urls = page_urls(links, first_user + 1, link.pk)

        def count_all():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM links_link")
                cursor.fetchone()

        result["phases"][name] = {
            "count_ms": median_ms(count_all, args.runs),
            "estimate_ms": median_ms(lambda: estimated_row_count(Link), args.runs),
            "click_update_ms": click_update_ms(connection, links),
            "summary_ms": median_ms(compute_summary, args.runs),
            "recent_clicks_ms": median_ms(
                lambda: recent_clicks(timezone.now().date()), args.runs
            ),
            "pages": time_pages(client, connection, urls, args.runs),
        }

    started = time.perf_counter()
    insert_links(connection, 1, SMALL, first_user)
    analyse(connection)
    phase("small")
    print(f"  loading {args.links:,} links ...", file=sys.stderr)
    insert_links(connection, SMALL + 1, args.links, first_user)
    analyse(connection)
    result["load_s"] = time.perf_counter() - started
    phase("large")

    started = time.perf_counter()
    statements = []
    models_by_name = {"Link": Link, "LinkDailyClicks": LinkDailyClicks}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            # What an operator would give a one-off index build.
            cursor.execute("SET maintenance_work_mem = '256MB'")
    for model_name, index in candidate_indexes(connection.vendor):
        model = models_by_name[model_name]
        with connection.schema_editor() as editor:
            if isinstance(index, str):
                statements.append(index)
                editor.execute(index)
            else:
                statements.append(str(index.create_sql(model, editor)))
                editor.add_index(model, index)
    analyse(connection)
    build_s = time.perf_counter() - started
    phase("indexed")
    result["phases"]["indexed"]["indexes"] = statements
    result["phases"]["indexed"]["index_build_s"] = build_s
    print(json.dumps(result))


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        run_worker(arguments)
    else:
        run_parent(arguments)
