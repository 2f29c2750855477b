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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from admin_changelist_worker import (
    USERS,
    analyse,
    candidate_indexes,
    click_update_ms,
    insert_links,
    median_ms,
    page_urls,
    time_pages,
)
from common import ROOT, add_engine_argument, add_server_arguments, throwaway_database

SMALL = 1_000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_argument(parser)
    parser.add_argument(
        "--links",
        type=int,
        default=1_000_000,
        help="links in the large phase (default: 1,000,000)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed requests per page (default: 3)"
    )
    add_server_arguments(parser)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the parent: databases and processes ----------------------------------------


def measure_engine(engine, args):
    env = {**os.environ, "ALLOWED_HOSTS": "testserver", "LOG_LEVEL": "WARNING"}
    name = f"tinylink_bench_{os.getpid()}"
    tmpdir = None
    if engine != "postgresql":
        tmpdir = tempfile.mkdtemp(prefix="tinylink_bench_")
    try:
        with throwaway_database(engine, args.pg_url, name, env, f"{tmpdir}/bench.db"):
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
        if tmpdir is not None:
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
            "estimate_ms": median_ms(Link.objects.planner_estimate, args.runs),
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
        # Candidates that the models have adopted exist already: the
        # "indexed" phase then measures only what is still optional.
        if not isinstance(index, str) and index.name in {
            existing.name for existing in model._meta.indexes
        }:
            continue
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
