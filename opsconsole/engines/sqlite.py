import os
from pathlib import Path

from opsconsole.engines.base import Engine

# Checked, never written to: a database on these may vanish on reboot.
_TEMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108


class SQLiteEngine(Engine):
    vendor = "sqlite"

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
        import sqlite3

        return sqlite3.sqlite_version

    def database_size(self):
        return self.path.stat().st_size if self.path.exists() else 0

    def wal_size(self):
        wal = Path(f"{self.path}-wal")
        return wal.stat().st_size if wal.exists() else 0

    def data_path(self):
        return self.path.parent

    def is_temporary_path(self):
        import tempfile

        resolved = os.path.realpath(self.path)
        # Checked, not written to: these are where a database must not live.
        temp_roots = {os.path.realpath(tempfile.gettempdir()), *_TEMP_ROOTS}
        return any(resolved.startswith(root + os.sep) for root in temp_roots)
