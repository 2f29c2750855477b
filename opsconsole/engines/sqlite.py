import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

from opsconsole.engines.base import Engine, Snapshot
from opsconsole.errors import OpsError

# Checked, never written to: a database on these may vanish on reboot.
_TEMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108
_BUSY_TIMEOUT_MS = 30_000
# "database disk image is malformed", "file is not a database".
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def _connect(path, **kwargs):
    # Plain sqlite3, outside Django: no transaction of Django's is open on it,
    # and autocommit so that nothing is held longer than a statement needs.
    connection = sqlite3.connect(path, isolation_level=None, **kwargs)
    connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return connection


class SQLiteEngine(Engine):
    vendor = "sqlite"
    artifact_suffix = ".sqlite3"

    @property
    def path(self):
        return Path(self.connection.settings_dict["NAME"])

    def ping(self, *, timeout):
        # A local file: nothing to time out on but the busy lock, which a
        # plain read in WAL mode never waits for.
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def server_version(self):
        return sqlite3.sqlite_version

    def database_size(self):
        return self.path.stat().st_size if self.path.exists() else 0

    def wal_size(self):
        wal = Path(f"{self.path}-wal")
        return wal.stat().st_size if wal.exists() else 0

    def data_path(self):
        return self.path.parent

    def is_corrupt(self, exc):
        cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
        # The primary result code: extended ones (SQLITE_CORRUPT_INDEX …)
        # carry it in their low byte.
        code = getattr(cause, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _DAMAGED

    def is_temporary_path(self):
        resolved = os.path.realpath(self.path)
        temp_roots = {os.path.realpath(tempfile.gettempdir()), *_TEMP_ROOTS}
        return any(resolved.startswith(root + os.sep) for root in temp_roots)

    # --- data operations ---------------------------------------------------

    @contextmanager
    def operations_lock(self, kind):
        lock_path = Path(f"{self.path}.ops-lock")
        with open(lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another operation"
                raise OpsError(
                    f"{holder} is running on this database; wait for it to finish."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{kind} (pid {os.getpid()})")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dump(self, destination, *, progress=None):
        """Copy a consistent snapshot of the live database to `destination`
        with the online backup API, on a dedicated connection, while the app
        keeps serving. Returns a Snapshot read from the copy itself, so its
        row counts and migrations are those of the very same moment."""
        total = self.database_size() + self.wal_size()
        done = threading.Event()
        if progress:
            # One step (pages=-1) is one read transaction: a consistent
            # snapshot that concurrent writers cannot make restart. Progress
            # is the copy's growing size, watched from the side.
            def watch():
                while not done.wait(1.0):
                    size = destination.stat().st_size if destination.exists() else 0
                    progress(size, total)

            threading.Thread(target=watch, daemon=True).start()
        try:
            with (
                closing(_connect(self.path)) as source,
                closing(sqlite3.connect(destination)) as target,
            ):
                source.backup(target, pages=-1)
                # A self-contained file: no -wal beside it.
                target.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            raise OpsError(f"SQLite backup failed: {exc}") from exc
        finally:
            done.set()
        if progress:
            progress(destination.stat().st_size, total)
        return self.read_snapshot(destination)

    def read_snapshot(self, artifact):
        """Row counts and applied migrations of a backup file."""
        try:
            with closing(sqlite3.connect(f"file:{artifact}?mode=ro", uri=True)) as db:
                tables = [
                    row[0]
                    for row in db.execute(
                        "SELECT name FROM sqlite_master WHERE type='table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                    )
                ]
                counts = {
                    table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                    for table in tables
                }
                migrations = db.execute(
                    "SELECT app, name FROM django_migrations ORDER BY app, name"
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise OpsError(
                f"{artifact} is not a readable SQLite database: {exc}"
            ) from exc
        return Snapshot(row_counts=counts, migrations=migrations)

    def has_schema(self):
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        try:
            with closing(_connect(f"file:{self.path}?mode=ro", uri=True)) as db:
                row = db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                    "AND name = 'django_migrations'"
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise OpsError(f"the database {self.path} is unreadable: {exc}") from exc
        return row is not None

    def damage(self):
        problems = self.check_artifact(self.path)
        return problems[0] if problems else None

    def set_aside(self, suffix):
        # Django's connection must not keep writing to the old file.
        self.connection.close()
        moved = []
        # The -wal and -shm go along: left behind, the new database would
        # replay the damaged one's log.
        for ending in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{ending}")
            if source.exists():
                target = Path(f"{self.path}.{suffix}{ending}")
                source.rename(target)
                moved.append(target)
        return moved

    def check_schema(self, artifact, *, known_tables, name):
        # SQLite's own bookkeeping tables, created by the engine, not by SQL.
        allowed_tables = {*known_tables, "sqlite_sequence", "sqlite_stat1"}
        try:
            with closing(sqlite3.connect(f"file:{artifact}?mode=ro", uri=True)) as db:
                objects = db.execute(
                    "SELECT type, name, tbl_name FROM sqlite_master ORDER BY rowid"
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise OpsError(f"{name} is not a readable SQLite database: {exc}") from exc
        for kind, object_name, table in objects:
            if kind not in ("table", "index"):
                raise OpsError(
                    f"{name} holds a {kind} ({object_name}), which "
                    "TinyLink never creates: refusing to load it. The backup was "
                    "altered or is not TinyLink's."
                )
            if table not in allowed_tables:
                raise OpsError(
                    f"{name} holds a table {table} that TinyLink's "
                    "migrations do not create: refusing to load it."
                )

    def check_artifact(self, artifact):
        """PRAGMA quick_check: every page and record readable (not the index
        contents, which integrity_check compares at many times the cost)."""
        try:
            with closing(sqlite3.connect(f"file:{artifact}?mode=ro", uri=True)) as db:
                rows = [row[0] for row in db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows[:20]

    def load(self, artifact, *, progress=None):
        """Replace the live database's content with the artifact's, through
        the backup API into the live file: one write transaction that other
        connections see complete or not at all. Never a file overwrite (a
        stale -wal would undo it)."""
        try:
            with (
                closing(_connect(f"file:{artifact}?mode=ro", uri=True)) as source,
                closing(_connect(self.path)) as target,
            ):
                source.backup(target, pages=-1)
        except sqlite3.Error as exc:
            raise OpsError(
                f"SQLite restore failed, the database is unchanged: {exc}"
            ) from exc
        # Django's own connection may hold a cached schema or statement.
        self.connection.close()

    def load_into_scratch(self, artifact):
        """A scratch copy for a restore test: returns (database settings
        for a temporary connection alias, cleanup callable)."""
        handle, scratch = tempfile.mkstemp(
            prefix="tinylink-restore-test-", suffix=".db"
        )
        os.close(handle)
        scratch = Path(scratch)
        try:
            with (
                closing(_connect(f"file:{artifact}?mode=ro", uri=True)) as source,
                closing(sqlite3.connect(scratch)) as target,
            ):
                source.backup(target, pages=-1)
        except sqlite3.Error as exc:
            scratch.unlink(missing_ok=True)
            raise OpsError(f"restoring into a scratch database failed: {exc}") from exc
        settings = {**self.connection.settings_dict, "NAME": str(scratch)}

        def cleanup():
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)

        return settings, cleanup

    def check_storage(self):
        """PRAGMA integrity_check and foreign_key_check on a fresh connection
        (so a page cache of Django's cannot hide a corrupted page)."""
        findings = []
        with closing(_connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            try:
                rows = [row[0] for row in db.execute("PRAGMA integrity_check")]
                if rows != ["ok"]:
                    findings += [("sqlite integrity_check", row) for row in rows[:20]]
            except sqlite3.DatabaseError as exc:
                findings.append(("sqlite integrity_check", str(exc)))
            # Separately: a failed integrity_check must not skip this one.
            try:
                for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check"):
                    findings.append(
                        (
                            "foreign key",
                            f"{table} row {rowid} points at a missing {parent}",
                        )
                    )
            except sqlite3.DatabaseError as exc:
                findings.append(("sqlite foreign_key_check", str(exc)))
        return findings, []

    def maintain(self, *, vacuum, analyze, reindex, optimize, progress=None):
        """Run the chosen steps on a dedicated connection, outside any
        transaction; returns [(step, seconds)]."""
        steps = []
        if vacuum:
            # VACUUM writes a full copy before it swaps: it needs about twice
            # the file's size free, and fails half-way without it.
            needed = 2 * (self.database_size() + self.wal_size())
            free = shutil.disk_usage(self.path.parent).free
            if free < needed:
                raise OpsError(
                    f"VACUUM needs about {needed // 2**20} MiB free next to the "
                    f"database; only {free // 2**20} MiB are. Free space or skip "
                    "--vacuum."
                )
        plan = [
            ("vacuum", vacuum, "VACUUM"),
            ("analyze", analyze, "ANALYZE"),
            ("reindex", reindex, "REINDEX"),
            ("optimize", optimize, "PRAGMA optimize"),
        ]
        with closing(_connect(self.path)) as db:
            for name, wanted, statement in plan:
                if not wanted:
                    continue
                if progress:
                    progress(name, None)
                started = time.monotonic()
                db.execute(statement)
                steps.append((name, time.monotonic() - started))
            started = time.monotonic()
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            steps.append(("wal_checkpoint", time.monotonic() - started))
        return steps
