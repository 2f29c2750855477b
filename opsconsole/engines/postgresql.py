from opsconsole.engines.base import Engine


class PostgreSQLEngine(Engine):
    vendor = "postgresql"

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

    def data_path(self):
        return None
