"""Redirect throughput of the production entry point against the bare-WSGI
ceiling under the same gunicorn settings, with exact click counts (issue 13).

    make bench                                   # both engines, 1k/100k/1M links
    make bench BENCH_ARGS="--engine sqlite --sizes 1000 --duration 5"
    .venv/bin/python bench/redirects.py --json redirects.json

It talks to the servers over HTTP only and reads the database after they
stopped, so it measures whatever the redirect path is, today's or a faster
one, without changes. In one run, because the machine is noisy:

1. The ceilings: bench/bare_wsgi.py (a fixed 302) under gunicorn with
   deploy/gunicorn.conf.py as shipped, and again with GUNICORN_THREADS=1
   (the plain sync worker).
2. For each engine (SQLite; PostgreSQL with CACHE_URL=redis://…/5, which is
   flushed first) a throwaway database (bench/common.py), migrated, with a
   user `bench` and an API token; for each size, smallest first, seed_links
   tops the links up to that size, then `gunicorn config.wsgi -c
   deploy/gunicorn.conf.py` starts on a free port (DEBUG off, ALLOWED_HOSTS
   127.0.0.1, WEB_CONCURRENCY and GUNICORN_THREADS at the shipped defaults
   unless --workers / --threads-per-worker), /health/live is awaited, wrk
   warms up for 2 s and measures for --duration, gunicorn gets SIGTERM and
   its exit is awaited, and the clicks in the database are read.
3. At the largest size: GET /api/links with the token (a few requests,
   median) and `manage.py export_links` of every link (peak RSS against the
   100 MB goal).

Counted vs completed, and why it is exact. "completed" is every 3xx answer
wrk received in the warm-up and the measured run (redirects.lua counts them
per thread). "counted" is how much SUM(click_count) grew over the same
server's life (the daily counters must grow by as much). wrk stops at -d and
drops the requests then in flight, which the server may still serve and
count: up to one per connection, which would blur the comparison. So
redirects.lua sends redirects for the window only and then lets each
connection go idle once its answer is in; wrk runs --drain seconds longer.
When redirects.lua reports every redirect request it sent as answered (none
in flight at the stop, none lost to a socket error), the server cannot have
served one that wrk did not see, so counted must equal completed, exactly,
after a graceful shutdown that had to flush whatever a worker still held.
When some were unanswered, the check becomes the bound completed <= counted
<= completed + unanswered and the table says so (raise --drain). A request
that went out after the window anyway goes to /health/live, which counts
nothing. A mismatch makes the script exit 1.

rps is the 3xx answers received within the window over the window, as wrk
computes its own Requests/sec over its duration; p50 and p99 come from wrk's
latency distribution. The ratios are to the shipped-settings ceiling of the
same run. Not part of the test suite.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backup_memory import run_measured
from common import (
    ROOT,
    add_engine_argument,
    add_server_arguments,
    pg_admin,
    throwaway_database,
)
from gunicorn_server import BARE, TINYLINK, Gunicorn, http_get, resolved_settings
from redirects_report import click_check, print_report
from wrk import run_wrk, wrk_path

PREFIX = "bench"
OWNER = "bench"
WARMUP_S = 2
API_REQUESTS = 5
SUMS = (
    "SELECT (SELECT COUNT(*) FROM links_link), "
    "(SELECT COALESCE(SUM(click_count), 0) FROM links_link), "
    "(SELECT COALESCE(SUM(clicks), 0) FROM links_linkdailyclicks)"
)
CREATE_OWNER = (
    "from django.contrib.auth import get_user_model; "
    f"get_user_model().objects.create_user({OWNER!r})"
)
# Settings the bench decides; the caller's own values would skew the run.
NOT_INHERITED = (
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_BIND",
    "PROMETHEUS_MULTIPROC_DIR",
    "DATABASE_URL",
    "CACHE_URL",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_argument(parser)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 100_000, 1_000_000],
        help="links to measure with (default: 1000 100000 1000000)",
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="measured seconds (default: 10)"
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk connections (default: 64)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="wrk threads (default: 2)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="WEB_CONCURRENCY for every server (default: the shipped default)",
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        help="GUNICORN_THREADS for every server but the sync ceiling "
        "(default: the shipped default)",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=3,
        help="seconds wrk waits after each window for the last answers "
        "(default: 3; must exceed the slowest answer)",
    )
    parser.add_argument(
        "--cache-url",
        default="redis://127.0.0.1:6379/5",
        help="CACHE_URL of the PostgreSQL runs, flushed first "
        "(default: redis://127.0.0.1:6379/5)",
    )
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.duration <= 0 or args.drain <= 0:
        parser.error("sizes, --duration and --drain must be positive")
    return args


def base_env(args):
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        DJANGO_DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
    )
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.threads_per_worker:
        env["GUNICORN_THREADS"] = str(args.threads_per_worker)
    return env


def manage(env, *args):
    """Run a manage.py command; its stdout. Fails with its stderr."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def drive(url, args, links):
    """The warm-up and the measured run, both counted (see the docstring)."""
    options = {
        "links": links,
        "prefix": PREFIX,
        "drain_s": args.drain,
        "connections": args.connections,
        "threads": args.threads,
    }
    warmup = run_wrk(url, window_s=WARMUP_S, seed=random.randrange(10**6), **options)
    main = run_wrk(url, window_s=args.duration, seed=random.randrange(10**6), **options)
    return warmup, main


def measure_ceiling(label, env, args, tmpdir):
    print(f"--- ceiling: {label} ...", file=sys.stderr)
    with Gunicorn(BARE, env, tmpdir / f"bare-{label}.log") as server:
        warmup, main = drive(server.url, args, links=1000)
        graceful = server.stop()
    return {
        "label": label,
        "settings": resolved_settings(env),
        "warmup": warmup,
        "main": main,
        "graceful": graceful,
    }


def click_sums(engine, env):
    """(links, SUM(click_count), SUM(daily clicks)), read directly."""
    url = env["DATABASE_URL"]
    if engine == "sqlite":
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            row = db.execute(SUMS).fetchone()
        finally:
            db.close()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(SUMS).fetchone()
    # PostgreSQL's SUM of a bigint is a numeric (Decimal).
    return tuple(int(value) for value in row)


def seed(env, size):
    started = time.perf_counter()
    out = manage(
        env,
        "seed_links",
        f"--count={size}",
        f"--owner={OWNER}",
        f"--prefix={PREFIX}",
        "--json",
    )
    # The last line: the slow-query log may write to stdout before it.
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "wall_s": time.perf_counter() - started}


def time_api(url, key):
    """GET /api/links as the owner of every link: one untimed, then the
    median of API_REQUESTS."""
    headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
    status, body = http_get(url + "/api/links", headers)
    times = []
    for _ in range(API_REQUESTS):
        started = time.perf_counter()
        status, body = http_get(url + "/api/links", headers)
        times.append(time.perf_counter() - started)
    count = json.loads(body).get("count") if status == 200 else None
    return {
        "status": status,
        "count": count,
        "times_s": times,
        "median_s": statistics.median(times),
    }


def measure_export(env, tmpdir):
    """Peak RSS of export_links of every link (largest process, VmHWM), and
    of `manage.py check` for the start-up alone."""
    target = tmpdir / "export.csv"
    command = [sys.executable, "manage.py", "export_links", f"--owner={OWNER}"]
    wall, peak, _, out = run_measured([*command, f"-o={target}"], env)
    target.unlink(missing_ok=True)
    _, startup_peak, _, _ = run_measured([sys.executable, "manage.py", "check"], env)
    return {
        "wall_s": wall,
        "peak_rss": peak,
        "startup_peak_rss": startup_peak,
        "output": out.strip(),
    }


def measure_engine(engine, args, env, tmpdir):
    env = dict(env)
    if engine == "postgresql":
        env["CACHE_URL"] = args.cache_url
        flush_cache(args.cache_url)
    name = f"tinylink_bench_redirect_{os.getpid()}"
    result = {"engine": engine, "rows": [], "api": None, "export": None}
    with throwaway_database(engine, args.pg_url, name, env, tmpdir / "bench.db"):
        manage(env, "shell", "-c", CREATE_OWNER)
        key = manage(env, "create_api_token", OWNER).strip().splitlines()[-1]
        sizes = sorted(set(args.sizes))
        for size in sizes:
            print(f"--- {engine}: {size:,} links ...", file=sys.stderr)
            seeding = seed(env, size)
            before = click_sums(engine, env)
            log = tmpdir / f"{engine}-{size}.log"
            with Gunicorn(TINYLINK, env, log) as server:
                warmup, main = drive(server.url, args, links=size)
                if size == sizes[-1]:
                    result["api"] = {"links": size, **time_api(server.url, key)}
                graceful = server.stop()
            after = click_sums(engine, env)
            row = {
                "engine": engine,
                "links": after[0],
                "seeding": seeding,
                "warmup": warmup,
                "main": main,
                "graceful": graceful,
                "clicks_counted": after[1] - before[1],
                "daily_counted": after[2] - before[2],
                "load_average": os.getloadavg(),
            }
            row["check"] = click_check(row)
            result["rows"].append(row)
        print(f"--- {engine}: export_links ...", file=sys.stderr)
        result["export"] = {"links": sizes[-1], **measure_export(env, tmpdir)}
    return result


def flush_cache(url):
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=5).flushdb()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis at {url} is not usable: {exc}") from exc


def preflight(args, engines):
    wrk_path()
    if "postgresql" in engines:
        try:
            pg_admin(args.pg_url, "SELECT 1")
        except Exception as exc:
            raise SystemExit(
                f"PostgreSQL at {args.pg_url} is not usable: {exc}"
            ) from exc
    if not (ROOT / "staticfiles" / "staticfiles.json").exists():
        manage(dict(os.environ), "collectstatic", "--noinput", "-v0")


def main(argv=None):
    args = parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    preflight(args, engines)
    env = base_env(args)
    sync_env = {**env, "GUNICORN_THREADS": "1"}
    report = {
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
        "warmup_s": WARMUP_S,
        "args": vars(args),
        "shipped": resolved_settings(env),
        "sync": resolved_settings(sync_env),
    }
    tmpdir = Path(tempfile.mkdtemp(prefix="tinylink_bench_redirect_"))
    try:
        report["ceilings"] = [
            measure_ceiling("shipped", env, args, tmpdir),
            measure_ceiling("sync", sync_env, args, tmpdir),
        ]
        report["engines"] = [
            measure_engine(engine, args, env, tmpdir) for engine in engines
        ]
    except BaseException:
        # The servers' logs say what went wrong; the database is not needed.
        for path in tmpdir.glob("bench.db*"):
            path.unlink()
        print(f"gunicorn logs kept in {tmpdir}", file=sys.stderr)
        raise
    shutil.rmtree(tmpdir, ignore_errors=True)
    report["load_average_end"] = os.getloadavg()
    ok = print_report(report)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
