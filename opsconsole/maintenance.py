"""VACUUM / ANALYZE / REINDEX / optimize, with sizes before and after."""

import time
from dataclasses import dataclass, field

from opsconsole.engines import engine_for
from opsconsole.locks import operation_lock


@dataclass
class MaintenanceResult:
    steps: list = field(default_factory=list)  # [(name, seconds)]
    size_before: int = 0
    size_after: int = 0
    wal_before: int | None = None
    wal_after: int | None = None
    duration_seconds: float = 0.0


def run_maintenance(
    *,
    vacuum=True,
    analyze=True,
    reindex=False,
    optimize=False,
    alias="default",
    progress=None,
):
    engine = engine_for(alias)
    started = time.monotonic()
    with operation_lock("maintenance", alias):
        result = MaintenanceResult(
            size_before=engine.database_size(), wal_before=engine.wal_size()
        )
        # Django's own connection must not hold a read snapshot meanwhile.
        engine.connection.close()
        result.steps = engine.maintain(
            vacuum=vacuum,
            analyze=analyze,
            reindex=reindex,
            optimize=optimize,
            progress=progress,
        )
        result.size_after = engine.database_size()
        result.wal_after = engine.wal_size()
    result.duration_seconds = time.monotonic() - started
    return result
