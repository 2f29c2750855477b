"""One adapter per database engine: the only place that branches on
connection.vendor (never on the ENGINE string: django-prometheus wraps it)."""

from django.db import connections

from opsconsole.engines.postgresql import PostgreSQLEngine
from opsconsole.engines.sqlite import SQLiteEngine

_ENGINES = {"sqlite": SQLiteEngine, "postgresql": PostgreSQLEngine}


def engine_for(alias="default"):
    connection = connections[alias]
    try:
        return _ENGINES[connection.vendor](connection)
    except KeyError:
        raise NotImplementedError(
            "TinyLink operations support SQLite and PostgreSQL, "
            f"not {connection.vendor}."
        ) from None
