"""PostgreSQL's side of a lost server: which errors mean it, and letting go
of the connections that broke with it."""

import psycopg

# SQLSTATEs the server sends when it will not serve this connection:
# shutting down, crashed, starting up, out of connection slots.
_SERVER_GONE = {"57P01", "57P02", "57P03", "53300"}


def is_unreachable(exc):
    """True for a connection that failed or broke, or a pool that had no
    connection to give (PoolTimeout); False for one statement's failure (a
    lock or statement timeout, a deadlock), which has its own SQLSTATE.
    `exc` is psycopg's error or Django's, which wraps it as its cause."""
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    if not isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    # libpq's own errors (refused, closed, timed out) carry no SQLSTATE.
    state = cause.sqlstate
    return state is None or state.startswith("08") or state in _SERVER_GONE


def drop_pooled_connections(connection):
    """Close the pool's idle connections (and those in use when they come
    back) and let it open new ones. After the server was lost they are dead:
    each would fail the next trial and keep the breaker open one more
    interval. Closing sends nothing that waits for the server."""
    pool = getattr(connection, "pool", None)
    if pool is not None:
        pool.drain()
