"""Memory and time of `manage.py backup` on a million links, against the
engines' own tools on the same data in the same run.

    .venv/bin/python bench/backup_memory.py                    # both engines
    .venv/bin/python bench/backup_memory.py --engine sqlite --links 100000 1000000

For each engine it creates a throwaway database (PostgreSQL: CREATE DATABASE
tinylink_bench_backup_<pid> on --pg-url; SQLite: a file in a temporary
directory), runs `manage.py migrate`, fills it with --links links and a daily
clicks row for every tenth link, then times, --runs times each and in turns:

  ours      `manage.py backup --json` in a subprocess (Django start-up, the
            dump, sha256, manifest)
  baseline  SQLite: the sqlite3 CLI's `.backup` (Python's backup API when
            the CLI is missing); PostgreSQL: `pg_dump -Fc -f FILE`
  start-up  `manage.py check`: what any command costs before it does anything

Peak memory is sampled every 10 ms from /proc, two ways: the largest single
process of the run's tree (its VmHWM) and the whole tree (manage.py with
pg_dump under it) as the sum of its proportional set sizes (Pss). Machines
are noisy, so it prints medians and ratios (ours / baseline) rather than
absolute times alone. The database is dropped however the run ends. Not part
of the test suite.
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

from common import ROOT, add_engine_argument, add_server_arguments, throwaway_database

DAILY_EVERY = 10
PAGE = os.sysconf("SC_PAGE_SIZE")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_argument(parser)
    parser.add_argument(
        "--links",
        type=int,
        nargs="+",
        default=[1_000_000],
        help="links; several sizes show how memory grows (default: 1,000,000)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of each (default: 3)"
    )
    add_server_arguments(parser)
    return parser.parse_args(argv)


# --- measuring one process tree ----------------------------------------------


def _children(pid):
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [
            int(child)
            for task in tasks
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return []


def _status_kib(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree(pid):
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(_children(current))
    return pids


def run_measured(command, env):
    """Run `command`; (wall seconds, peak RSS of its largest process, peak of
    the tree's summed RSS, stdout). Raises on a non-zero exit.

    Peaks are sampled from /proc every 10 ms: VmHWM per process (its own
    high-water mark since exec) and the sum of Pss over the tree (RSS would
    count the pages a forked child shares with its parent twice). Not
    wait4's ru_maxrss: Linux carries the forking parent's RSS into the child
    at exec, which would credit a small tool with this script's memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    hwm, peak_tree, done = {}, 0, threading.Event()

    def sample():
        nonlocal peak_tree
        while True:
            pids = _tree(process.pid)
            for pid in pids:
                hwm[pid] = max(hwm.get(pid, 0), _status_kib(pid, "VmHWM"))
            peak_tree = max(peak_tree, sum(_pss(pid) for pid in pids))
            if done.wait(0.01):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(
            f"{command[:3]} exited {process.returncode}: "
            f"{stderr.decode(errors='replace')[-2000:]}"
        )
    return wall, max(hwm.values(), default=0), peak_tree, stdout.decode()


# --- databases -----------------------------------------------------------------


FILL_LINKS = (
    "INSERT INTO links_link (short_code, target_url, created_at, updated_at, "
    "click_count, is_active) SELECT 'b' || n, "
    "'https://example.com/articles/' || n || '?utm_source=newsletter', "
    "{now}, {now}, n % 1000, {true} FROM {series}"
)
FILL_DAILY = (
    "INSERT INTO links_linkdailyclicks (link_id, day, clicks) "
    "SELECT id, '2025-01-01', click_count FROM links_link WHERE id % {every} = 0"
)


def fill_sqlite(path, links):
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN")
        series = (
            f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
            f"WHERE n < {links}) SELECT n FROM s)"
        )
        db.execute(FILL_LINKS.format(now="datetime('now')", true=1, series=series))
        db.execute(FILL_DAILY.format(every=DAILY_EVERY))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fill_postgresql(url, links):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        series = f"generate_series(1, {links}) AS n"
        conn.execute(FILL_LINKS.format(now="now()", true="true", series=series))
        conn.execute(FILL_DAILY.format(every=DAILY_EVERY))
        conn.execute("VACUUM ANALYZE")


def database_size(engine, env):
    if engine == "sqlite":
        path = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        wal = Path(f"{path}-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def baseline_command(engine, env, destination):
    if engine == "sqlite":
        source = env["DATABASE_URL"].removeprefix("sqlite:///")
        if shutil.which("sqlite3"):
            return ["sqlite3", source, f".backup '{destination}'"], "sqlite3 .backup"
        script = (
            "import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); "
            "d = sqlite3.connect(sys.argv[2]); s.backup(d); d.close()"
        )
        return [sys.executable, "-c", script, source, str(destination)], (
            "python sqlite3 backup API"
        )
    return (
        ["pg_dump", "-Fc", "-f", str(destination), env["DATABASE_URL"]],
        "pg_dump -Fc",
    )


def measure_engine(engine, links, args):
    tmpdir = Path(tempfile.mkdtemp(prefix="tinylink_bench_backup_"))
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "BACKUP_DIR": str(tmpdir / "ours"),
    }
    name = f"tinylink_bench_backup_{os.getpid()}"
    try:
        with throwaway_database(engine, args.pg_url, name, env, tmpdir / "bench.db"):
            started = time.perf_counter()
            if engine == "sqlite":
                fill_sqlite(tmpdir / "bench.db", links)
            else:
                fill_postgresql(env["DATABASE_URL"], links)
            fill_s = time.perf_counter() - started
            size = database_size(engine, env)
            runs = {"ours": [], "baseline": [], "startup": []}
            label = ""
            for run in range(args.runs):
                # In turns, so a noisy neighbour hurts both alike.
                destination = tmpdir / f"baseline-{run}"
                command, label = baseline_command(engine, env, destination)
                wall, peak, tree, _ = run_measured(command, env)
                runs["baseline"].append(
                    {
                        "wall_s": wall,
                        "peak_rss": peak,
                        "tree_pss": tree,
                        "artifact_size": destination.stat().st_size,
                    }
                )
                destination.unlink()
                wall, peak, tree, out = run_measured(
                    [sys.executable, "manage.py", "backup", "--json", "--keep", "1"],
                    env,
                )
                payload = json.loads(out)
                runs["ours"].append(
                    {
                        "wall_s": wall,
                        "backup_s": payload["duration_seconds"],
                        "peak_rss": peak,
                        "tree_pss": tree,
                        "artifact_size": payload["size"],
                    }
                )
                wall, peak, tree, _ = run_measured(
                    [sys.executable, "manage.py", "check"], env
                )
                runs["startup"].append(
                    {"wall_s": wall, "peak_rss": peak, "tree_pss": tree}
                )
            return {
                "engine": engine,
                "links": links,
                "database_size": size,
                "fill_s": fill_s,
                "baseline": label,
                "runs": runs,
                "load_average": os.getloadavg(),
            }
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# --- report ----------------------------------------------------------------------


def _median(runs, key):
    return statistics.median(run[key] for run in runs)


def _mib(value):
    return f"{value / 2**20:,.0f} MiB"


def print_report(result):
    runs = result["runs"]
    ours, base, startup = runs["ours"], runs["baseline"], runs["startup"]
    size = result["database_size"]
    base_s = _median(base, "wall_s")
    print(
        f"\n=== {result['engine']}: {result['links']:,} links, database "
        f"{_mib(size)} (filled in {result['fill_s']:.0f} s), "
        f"{len(ours)} runs, load average {result['load_average'][0]:.1f} ==="
    )
    rows = [
        ("baseline: " + result["baseline"], base, None),
        ("manage.py backup (wall)", ours, "wall_s"),
        ("  of which the backup itself", ours, "backup_s"),
        ("manage.py check (start-up)", startup, None),
    ]
    print(
        f"{'':<32}{'median s':>9}{'× base':>8}{'peak RSS':>11}{'tree PSS':>11}"
        f"{'PSS/DB':>8}"
    )
    for label, measured, key in rows:
        seconds = _median(measured, key or "wall_s")
        peak = _median(measured, "peak_rss")
        tree = _median(measured, "tree_pss")
        print(
            f"{label:<32}{seconds:9.2f}{seconds / base_s:8.2f}{_mib(peak):>11}"
            f"{_mib(tree):>11}{tree / size:8.3f}"
        )
    print(
        f"artifact: ours {_mib(_median(ours, 'artifact_size'))}, baseline "
        f"{_mib(_median(base, 'artifact_size'))}; peak tree PSS of manage.py "
        f"backup minus start-up: "
        f"{_mib(_median(ours, 'tree_pss') - _median(startup, 'tree_pss'))}"
    )


def main(argv=None):
    args = parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = []
    for engine in engines:
        for links in args.links:
            print(f"--- {engine}: building {links:,} links ...", file=sys.stderr)
            results.append(measure_engine(engine, links, args))
            print_report(results[-1])
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
