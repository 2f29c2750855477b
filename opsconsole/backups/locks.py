"""One data operation per database at a time."""

from contextlib import contextmanager

from opsconsole.engines import engine_for


@contextmanager
def operation_lock(kind, alias="default"):
    """Hold the database's operations lock for the block, or raise OpsError at
    once naming the operation that holds it (never wait: a backup queued
    behind a long restore would surprise everyone)."""
    engine = engine_for(alias)
    with engine.operations_lock(kind):
        yield
