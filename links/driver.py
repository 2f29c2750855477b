"""A cursor of the database driver itself, on this thread's Django
connection: for the redirect's few statements, where Django's cursor stack
(its wrappers, django-prometheus's class per cursor, the slow-query log,
psycopg's ClientCursor spelling values into the SQL in Python) cost more
than the database's work. Such statements are not counted in django_db_*
metrics nor logged as slow; their errors are still Django's DatabaseError,
and the connection is Django's (opened, pooled, closed as usual)."""

from django.db import connection


class DriverCursor:
    def __init__(self):
        connection.ensure_connection()
        with connection.wrap_database_errors:
            raw = connection.connection
            self.postgresql = connection.vendor == "postgresql"
            if self.postgresql:
                import psycopg

                # Binding on the server, so a statement can be prepared.
                self.cursor = psycopg.Cursor(raw)
            else:
                self.cursor = raw.cursor()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cursor.close()

    def execute(self, sql, params, *, prepare=False):
        """`sql` with %s placeholders; `prepare` on PostgreSQL: once per
        connection, then only bound and run."""
        with connection.wrap_database_errors:
            if self.postgresql:
                self.cursor.execute(sql, params, prepare=prepare)
            else:
                self.cursor.execute(sql.replace("%s", "?"), params)

    def fetchone(self):
        with connection.wrap_database_errors:
            return self.cursor.fetchone()

    def fetchall(self):
        with connection.wrap_database_errors:
            return self.cursor.fetchall()
