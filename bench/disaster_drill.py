"""The disaster drill at scale: back up N links, lose the database (SQLite
file deleted; PostgreSQL database dropped and created empty), `restore
--latest --noinput`, and check every link and click came back. Prints the
recovery time (RTO) per engine, for docs/operations.md.

    python bench/disaster_drill.py --links 1000000 --engine both

Not part of the test suite: a million links take minutes.
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_memory import fill_postgresql, fill_sqlite
from common import (
    ROOT,
    add_engine_argument,
    add_server_arguments,
    pg_admin,
    throwaway_database,
)


def manage(env, *args):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return time.monotonic() - started, result.stdout


def totals(engine, env):
    query = "SELECT COUNT(*), COALESCE(SUM(click_count), 0) FROM links_link"
    if engine == "sqlite":
        path = env["DATABASE_URL"].removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as db:
            return tuple(int(v) for v in db.execute(query).fetchone())
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return tuple(int(v) for v in conn.execute(query).fetchone())


def lose(engine, env, pg_url, name):
    if engine == "sqlite":
        path = env["DATABASE_URL"].removeprefix("sqlite:///")
        for ending in ("", "-wal", "-shm"):
            Path(f"{path}{ending}").unlink(missing_ok=True)
    else:
        pg_admin(pg_url, f"DROP DATABASE {name} WITH (FORCE)")
        pg_admin(pg_url, f"CREATE DATABASE {name}")


def drill(engine, links, args, workdir):
    env = {
        **os.environ,
        "BACKUP_DIR": str(workdir / "backups"),
        "BACKUP_STAGING_DIR": str(workdir / "staging"),
        "CLICK_HOLD_CHECK_SECONDS": "1",
    }
    name = f"tinylink_drill_{os.getpid()}"
    with throwaway_database(engine, args.pg_url, name, env, workdir / "drill.db"):
        if engine == "sqlite":
            fill_sqlite(workdir / "drill.db", links)
        else:
            fill_postgresql(env["DATABASE_URL"], links)
        before = totals(engine, env)
        backup_seconds, _ = manage(env, "backup")
        _, listed = manage(env, "list_backups", "--json")
        [backup] = json.loads(listed)["backups"]
        drill_seconds, drilled = manage(env, "restore_test", "--latest", "--json")
        lose(engine, env, args.pg_url, name)
        restore_seconds, _ = manage(env, "restore", "--latest", "--noinput")
        after = totals(engine, env)
    return {
        "engine": engine,
        "links": links,
        "backup_seconds": round(backup_seconds, 1),
        "stored_mib": round(backup["size"] / 2**20, 1),
        "drill_rto_seconds": json.loads(drilled)["rto_seconds"],
        "drill_seconds": round(drill_seconds, 1),
        "restore_seconds": round(restore_seconds, 1),
        "all_back": before == after,
        "links_and_clicks": after,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_argument(parser)
    add_server_arguments(parser)
    parser.add_argument("--links", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = []
    for engine in engines:
        workdir = Path(tempfile.mkdtemp(prefix="tinylink-drill-"))
        try:
            results.append(drill(engine, args.links, args, workdir))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    header = "engine      links  backup s  stored MiB  drill RTO s  restore s  all back"
    print(header)
    for r in results:
        print(
            f"{r['engine']:<10} {r['links']:>7} {r['backup_seconds']:>9} "
            f"{r['stored_mib']:>11} {r['drill_rto_seconds']:>12} "
            f"{r['restore_seconds']:>10}  {r['all_back']}"
        )
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    if not all(r["all_back"] for r in results):
        raise SystemExit("NOT every link and click came back")


if __name__ == "__main__":
    main()
