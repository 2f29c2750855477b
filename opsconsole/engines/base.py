from dataclasses import dataclass, field

from opsconsole.errors import OpsError


@dataclass
class Snapshot:
    """What a backup holds: row counts per table and applied migrations,
    both read at the moment the backup copies."""

    row_counts: dict = field(default_factory=dict)
    migrations: list = field(default_factory=list)  # [(app, name)]


class Engine:
    """What the ops console needs to know about, and do with, one database
    connection. Every method the operations call is declared here; an engine
    that lacks one fails loudly rather than being skipped."""

    vendor = ""
    artifact_suffix = ""

    def __init__(self, connection):
        self.connection = connection

    # --- facts ----------------------------------------------------------------

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

    def data_path(self):
        """The local directory that holds the database's files, or None when
        a server keeps them."""
        return None

    def is_temporary_path(self):
        """True when the database's files live where a reboot may wipe them."""
        return False

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

    def is_unreachable(self, exc):
        """True when the database error `exc` says the server cannot be
        reached (opsconsole.breaker then answers 503 at once for a while);
        False for one statement's failure. A local file is always there."""
        return False

    def drop_pooled_connections(self):
        """Let go of pooled connections, which broke with the server."""

    def is_corrupt(self, exc):
        """True when the database error `exc` says the stored data is damaged:
        no retry helps; check_integrity finds it and a restore repairs it."""
        return False

    # --- data operations --------------------------------------------------------

    def operations_lock(self, kind):
        """A context manager holding "a data operation of `kind` runs on this
        database"; OpsError at once, naming the holder, when one already does."""
        raise NotImplementedError

    def dump(self, destination, *, progress=None):
        """Write a consistent snapshot to `destination`; returns its Snapshot."""
        raise NotImplementedError

    def read_snapshot(self, artifact):
        """The Snapshot (row counts, migrations) a backup file holds; OpsError
        when it cannot be read."""
        raise NotImplementedError

    def has_schema(self):
        """True when the live database holds TinyLink's tables (False for a
        lost file or a re-created empty database); OpsError when it cannot
        be read at all."""
        raise NotImplementedError

    def damage(self):
        """What is wrong with the live database's storage, or None when a
        quick check finds it sound (or the engine cannot tell)."""
        return None

    def set_aside(self, suffix):
        """Move the damaged live database's files aside (kept, renamed with
        `suffix`) so a restore can write a new one; returns the new paths.
        OpsError where the engine has no files of its own to move."""
        raise OpsError(
            f"the {self.vendor} database cannot be moved aside by TinyLink; "
            "restore into a new database instead (docs/operations.md)."
        )

    def check_schema(self, artifact, *, known_tables, name):
        """OpsError naming the first object in the backup file that TinyLink's
        migrations do not create (a trigger, a view, a function, an unknown
        table): checked before anything is loaded, since such an object would
        run an attacker's SQL during or after the restore."""
        raise NotImplementedError

    def check_artifact(self, artifact):
        """Problems found by a quick integrity check of a backup file ([] when
        it is sound): what makes a fresh backup count as good."""
        raise NotImplementedError

    def load(self, artifact, *, progress=None):
        """Replace the live data with the backup's, in one transaction."""
        raise NotImplementedError

    def fix_sequences(self):
        """Bring id sequences up to the loaded data; returns the ones set.
        Engines whose ids follow the data by themselves have none."""
        return []

    def load_into_scratch(self, artifact):
        """Load a backup into a new scratch database; returns (its Django
        connection settings, a cleanup function that removes it)."""
        raise NotImplementedError

    def check_storage(self):
        """(findings [(check, detail)], notes) of the engine's own checks."""
        raise NotImplementedError

    def maintain(self, *, vacuum, analyze, reindex, optimize, progress=None):
        """Run the chosen maintenance steps; returns [(step, seconds)]."""
        raise NotImplementedError
