from dataclasses import dataclass, field


@dataclass
class Snapshot:
    """What a backup holds: row counts per table and applied migrations,
    both read at the moment the backup copies."""

    row_counts: dict = field(default_factory=dict)
    migrations: list = field(default_factory=list)  # [(app, name)]


class Engine:
    """What the ops console needs to know about one database connection."""

    vendor = ""
    artifact_suffix = ""

    def __init__(self, connection):
        self.connection = connection

    def ping(self, *, timeout):
        """Run SELECT 1; raise on failure or when it takes over `timeout` s."""
        raise NotImplementedError

    def server_version(self):
        raise NotImplementedError

    def database_size(self):
        """Bytes on disk of the database (without WAL)."""
        raise NotImplementedError

    def wal_size(self):
        """Bytes of write-ahead log waiting to be checkpointed, or None."""
        return None

    def table_row_counts(self, tables):
        quote = self.connection.ops.quote_name
        counts = {}
        with self.connection.cursor() as cursor:
            for table in sorted(tables):
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
                counts[table] = cursor.fetchone()[0]
        return counts

    def pool_stats(self):
        return None
