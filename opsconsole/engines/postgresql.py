import os
import subprocess
import time
import uuid
from contextlib import contextmanager

import psycopg
from django.apps import apps
from django.conf import settings
from psycopg import sql

import opsconsole.engines.pg_archive as pg_archive
import opsconsole.engines.pg_outage as pg_outage
from opsconsole.engines.base import Engine, Snapshot
from opsconsole.errors import OpsError

CHUNK = 1024 * 1024
# Fixed advisory-lock key for "a TinyLink data operation is running".
_OPS_LOCK_KEY = 0x71A7_11CE
_OUR_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"


class PostgreSQLEngine(Engine):
    vendor = "postgresql"
    artifact_suffix = ".pgdump"

    def ping(self, *, timeout):
        pool = getattr(self.connection, "pool", None)
        if pool is None:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return
        # Through the pool, as requests go, but waiting `timeout` seconds at
        # most: a probe must not hang for the pool's full timeout while the
        # server is down. The pool reconnects by itself when it is back.
        with pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1").fetchone()

    def server_version(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]

    def database_size(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]

    def pool_stats(self):
        pool = getattr(self.connection, "pool", None)
        return pool.get_stats() if pool is not None else None

    def is_unreachable(self, exc):
        return pg_outage.is_unreachable(exc)

    def drop_pooled_connections(self):
        pg_outage.drop_pooled_connections(self.connection)

    # --- connections and tools -------------------------------------------------

    @property
    def dbname(self):
        return self.connection.settings_dict["NAME"]

    def _conninfo(self, dbname=None):
        s = self.connection.settings_dict
        params = {
            "dbname": dbname or s["NAME"],
            "user": s["USER"] or None,
            "password": s["PASSWORD"] or None,
            "host": s["HOST"] or None,
            "port": s["PORT"] or None,
            "connect_timeout": 10,
        }
        return {k: v for k, v in params.items() if v is not None}

    def _connect(self, dbname=None, **kwargs):
        try:
            return psycopg.connect(**self._conninfo(dbname), **kwargs)
        except psycopg.Error as exc:
            raise OpsError(f"cannot connect to PostgreSQL: {exc}") from exc

    def _tool_env(self, dbname=None):
        info = self._conninfo(dbname)
        env = {**os.environ, "PGDATABASE": info["dbname"], "PGCONNECT_TIMEOUT": "10"}
        for key, var in (
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("host", "PGHOST"),
            ("port", "PGPORT"),
        ):
            if key in info:
                env[var] = str(info[key])
        return env

    def _server_major(self, conn):
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000

    def _check_tool_version(self, path, conn):
        pg_archive.check_tool_version(path, self._server_major(conn))

    # --- data operations -------------------------------------------------------

    @contextmanager
    def operations_lock(self, kind):
        conn = self._connect(autocommit=True)
        try:
            # The application name tells a refused operation who holds the lock.
            conn.execute(
                sql.SQL("SET application_name = {}").format(
                    sql.Literal(f"tinylink-ops:{kind}:{os.getpid()}")
                )
            )
            got = conn.execute(
                "SELECT pg_try_advisory_lock(%s)", [_OPS_LOCK_KEY]
            ).fetchone()[0]
            if not got:
                holder = conn.execute(
                    "SELECT a.application_name, a.pid FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted",
                    [_OPS_LOCK_KEY & 0xFFFFFFFF],
                ).fetchone()
                who = "another TinyLink data operation"
                if holder and holder[0].startswith("tinylink-ops:"):
                    # The holder's own process id, as the SQLite lock file says.
                    _, holder_kind, holder_pid = holder[0].split(":", 2)
                    who = f"{holder_kind} (pid {holder_pid})"
                raise OpsError(
                    f"{who} is running on this database; wait for it to finish."
                )
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [_OPS_LOCK_KEY])
        finally:
            conn.close()

    def _snapshot_in(self, conn):
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "ORDER BY tablename"
            )
        ]
        counts = {
            table: conn.execute(
                sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }
        migrations = [
            tuple(row)
            for row in conn.execute(
                "SELECT app, name FROM django_migrations ORDER BY app, name"
            )
        ]
        return Snapshot(row_counts=counts, migrations=migrations)

    def dump(self, destination, *, progress=None):
        """pg_dump --format=custom of one exported snapshot; the row counts and
        migrations are read in that same snapshot, so they match the dump."""
        pg_dump = pg_archive.tool("pg_dump")
        conn = self._connect()
        try:
            self._check_tool_version(pg_dump, conn)
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            snapshot = self._snapshot_in(conn)
            command = [
                pg_dump,
                "--format=custom",
                # Uncompressed: the backup is zstd-compressed as a whole
                # (codec.py), which packs far smaller than pg_dump's gzip.
                "--compress=0",
                f"--snapshot={snapshot_id}",
                "--no-password",
            ]
            written = 0
            with (
                open(destination, "wb") as out,
                subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=self._tool_env(),
                ) as process,
            ):
                # Streamed in chunks: never the whole dump in memory.
                while chunk := process.stdout.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    if progress:
                        progress(written, None)
                stderr = process.stderr.read().decode(errors="replace")
                process.wait()
            if process.returncode != 0:
                raise OpsError(f"pg_dump failed: {stderr.strip().splitlines()[-1:]}")
            conn.execute("COMMIT")
        finally:
            conn.close()
        return snapshot

    def has_schema(self):
        with self._connect() as conn:
            return conn.execute(
                "SELECT to_regclass('django_migrations') IS NOT NULL"
            ).fetchone()[0]

    def read_snapshot(self, artifact):
        """Only the manifest knows the counts of a custom-format dump; check
        that the file at least is one."""
        pg_archive.list_entries(artifact)

    def check_schema(self, artifact, *, known_tables, name):
        pg_archive.check_schema(artifact, known_tables=known_tables, name=name)

    def check_artifact(self, artifact):
        """A dump of a damaged table fails in pg_dump itself, so what is left
        to catch is a bad file: the whole archive is read back."""
        return pg_archive.check_archive(artifact)

    def _restore(self, artifact, dbname):
        pg_archive.restore_archive(artifact, dbname, self._tool_env(dbname))

    def load(self, artifact, *, progress=None):
        # Pooled connections must not hold locks that --clean needs.
        self.connection.close()
        with self._connect() as conn:
            self._check_tool_version(pg_archive.tool("pg_restore"), conn)
        self._restore(artifact, self.dbname)

    def fix_sequences(self):
        """Set every serial sequence to at least its table's max primary key."""
        fixed = []
        with self._connect(autocommit=True) as conn:
            rows = conn.execute(
                "SELECT c.relname, a.attname, pg_get_serial_sequence("
                "quote_ident(c.relname), a.attname) FROM pg_class c "
                "JOIN pg_attribute a ON a.attrelid = c.oid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema() "
                "AND a.attnum > 0 AND NOT a.attisdropped "
                "AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
                "IS NOT NULL"
            ).fetchall()
            for table, column, sequence in rows:
                query = sql.SQL(
                    "SELECT setval(%s, GREATEST((SELECT COALESCE(MAX({col}), 0) "
                    "FROM {tbl}), (SELECT last_value FROM {seq})), true)"
                ).format(
                    col=sql.Identifier(column),
                    tbl=sql.Identifier(table),
                    seq=sql.SQL(sequence),
                )
                conn.execute(query, [sequence])
                fixed.append(sequence)
        return fixed

    def load_into_scratch(self, artifact):
        scratch, cleanup = self._scratch_database()

        try:
            self._restore(artifact, scratch)
        except BaseException:
            cleanup()
            raise
        scratch_settings = {
            **self.connection.settings_dict,
            "NAME": scratch,
            "OPTIONS": {
                k: v
                for k, v in self.connection.settings_dict["OPTIONS"].items()
                if k != "pool"
            },
        }
        return scratch_settings, cleanup

    def _scratch_database(self):
        """(name, cleanup) of a database the drill may fill: a new one, or the
        operator's RESTORE_TEST_DATABASE for a role without CREATEDB."""
        configured = settings.RESTORE_TEST_DATABASE
        if configured:
            if configured == self.dbname:
                raise OpsError(
                    "RESTORE_TEST_DATABASE is the live database; name a scratch "
                    "database the drill may empty and fill."
                )

            def empty():
                # The drill's copy holds password hashes: never left behind.
                with self._connect(configured, autocommit=True) as conn:
                    conn.execute("DROP SCHEMA public CASCADE")
                    conn.execute("CREATE SCHEMA public")

            return configured, empty
        scratch = f"tinylink_restore_test_{uuid.uuid4().hex[:12]}"
        try:
            with self._connect(autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch))
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            user = self.connection.settings_dict["USER"] or "this role"
            raise OpsError(
                f"the restore drill needs a scratch database, and {user} may not "
                f"create one: ALTER ROLE {user} CREATEDB, or set "
                "RESTORE_TEST_DATABASE to a database it owns (docs/operations.md)."
            ) from exc

        def drop():
            with self._connect(autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(scratch)
                    )
                )

        return scratch, drop

    def check_storage(self):
        """amcheck's bt_index_check on every B-tree index of our tables, when
        the extension can be used; otherwise a note that says why not."""
        findings, notes = [], []
        with self._connect(autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            except psycopg.Error as exc:
                notes.append(
                    "amcheck is not available, so index structure was not "
                    f"checked: {str(exc).strip().splitlines()[0]}"
                )
                return findings, notes
            indexes = conn.execute(
                "SELECT i.indexrelid::regclass::text FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.amname = 'btree' AND n.nspname = current_schema()"
            ).fetchall()
            for (index,) in indexes:
                try:
                    conn.execute("SELECT bt_index_check(%s::regclass, true)", [index])
                except psycopg.Error as exc:
                    findings.append(("amcheck", f"{index}: {exc}".strip()))
            notes.append(f"amcheck: {len(indexes)} B-tree indexes checked")
        return findings, notes

    def maintain(self, *, vacuum, analyze, reindex, optimize, progress=None):
        """VACUUM (ANALYZE) and REINDEX CONCURRENTLY of our tables, in
        autocommit (VACUUM cannot run in a transaction) with a lock_timeout,
        so maintenance gives way instead of queueing traffic behind it."""
        tables = sorted(
            {
                m._meta.db_table
                for m in apps.get_models()
                if m._meta.managed and not m._meta.proxy
            }
        )
        steps = []
        with self._connect(autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            existing = {row[0] for row in conn.execute(_OUR_TABLES)}
            if vacuum or analyze:
                keyword = (
                    ("VACUUM (ANALYZE)" if analyze else "VACUUM")
                    if vacuum
                    else ("ANALYZE")
                )
                steps.append(
                    self._each_table(conn, keyword, tables, existing, progress)
                )
            if reindex:
                steps.append(
                    self._each_table(
                        conn, "REINDEX TABLE CONCURRENTLY", tables, existing, progress
                    )
                )
        return steps

    def _each_table(self, conn, keyword, tables, existing, progress):
        started = time.monotonic()
        for table in (t for t in tables if t in existing):
            if progress:
                progress(f"{keyword} {table}", None)
            try:
                conn.execute(sql.SQL(keyword + " {}").format(sql.Identifier(table)))
            except psycopg.errors.LockNotAvailable as exc:
                raise OpsError(
                    f"{keyword} of {table} gave way to traffic (lock "
                    "timeout); run it again at a quieter time."
                ) from exc
        return keyword.lower(), time.monotonic() - started
