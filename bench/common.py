"""What the bench scripts share: their common options and a throwaway,
migrated database on PostgreSQL or SQLite. Not part of the test suite."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_engine_argument(parser):
    parser.add_argument(
        "--engine",
        choices=["postgresql", "sqlite", "both"],
        default="both",
        help="which database engine(s) to measure (default: both)",
    )


def add_server_arguments(parser):
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name (default: $PG_URL or "
        "postgres://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--json", dest="json_path", help="also write the raw results to this file"
    )


def pg_admin(pg_url, statement):
    import psycopg

    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def throwaway_database(engine, pg_url, name, env, sqlite_path):
    """Points env["DATABASE_URL"] at a new database and migrates it.

    PostgreSQL: CREATE DATABASE name on pg_url, dropped however the block
    ends. SQLite: the file sqlite_path, which the caller cleans up.
    """
    if engine == "postgresql":
        pg_admin(pg_url, f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = f"{pg_url}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{sqlite_path}"
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        yield env
    finally:
        if engine == "postgresql":
            pg_admin(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
