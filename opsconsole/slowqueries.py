"""Warn about database queries slower than LOG_SLOW_QUERY_MS."""

import logging
import time

from django.conf import settings

logger = logging.getLogger("tinylink.db")


def log_slow_query(execute, sql, params, many, context):
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - start) * 1000
        if elapsed_ms >= settings.LOG_SLOW_QUERY_MS:
            # The statement without its parameters: they may hold user data.
            logger.warning(
                "slow query took %.0f ms",
                elapsed_ms,
                extra={"sql_ms": round(elapsed_ms, 1), "sql": sql[:1000]},
            )


def install(sender, connection, **kwargs):
    """connection_created receiver; pooled connections fire it once per
    checkout, so the wrapper is added only once per connection wrapper."""
    if settings.LOG_SLOW_QUERY_MS and log_slow_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(log_slow_query)
