"""One ERROR line per process at start when the database lacks migrations.

The image no longer migrates on every start (replicas raced each other):
`manage.py migrate --noinput` runs once per release. A release whose migrate
step was forgotten still starts, answers 503 on /health/ready
(opsconsole/health.py) and says why here, once per worker, instead of failing
request by request with "no such table"."""

import logging
import threading

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger("tinylink.migrations")
NAMES_SHOWN = 5
PENDING_MESSAGE = (
    "{count} migrations pending ({names}): run `manage.py migrate --noinput` "
    "once; /health/ready answers 503 until then"
)


def pending_migrations(alias=DEFAULT_DB_ALIAS):
    """'app_label.name' of every migration the database still lacks, in the
    order migrate would apply them."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def log_pending_migrations(alias=DEFAULT_DB_ALIAS):
    """Logs the pending migrations, if any; a database that cannot be reached
    gets one WARNING line, never an exception (the process keeps serving and
    its probes say the rest)."""
    try:
        pending = pending_migrations(alias)
    except Exception as exc:  # noqa: BLE001 - any failure: the probes tell
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        logger.warning("could not check for pending migrations: %s", reason)
        return None
    finally:
        # Back to the pool (PostgreSQL) or closed (SQLite): this thread ends.
        connections[alias].close()
    if pending:
        names = ", ".join(pending[:NAMES_SHOWN])
        if len(pending) > NAMES_SHOWN:
            names += ", …"
        logger.error(PENDING_MESSAGE.format(count=len(pending), names=names))
    else:
        logger.info("no migrations pending")
    return pending


def log_pending_migrations_in_background():
    """In a thread of its own, so that a database that is slow to answer
    (connect and pool timeouts) never delays the worker's first request."""
    thread = threading.Thread(
        target=log_pending_migrations, name="pending-migrations", daemon=True
    )
    thread.start()
    return thread
