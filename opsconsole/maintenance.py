"""VACUUM / ANALYZE / REINDEX / optimize, with sizes before and after."""

import time
from dataclasses import dataclass, field

from django.template.defaultfilters import filesizeformat

from opsconsole.backups.locks import operation_lock
from opsconsole.engines import engine_for
from opsconsole.results import OperationResult


@dataclass
class MaintenanceResult(OperationResult):
    steps: list = field(default_factory=list)  # [(name, seconds)]
    size_before: int = 0
    size_after: int = 0
    wal_before: int | None = None
    wal_after: int | None = None
    duration_seconds: float = 0.0

    @property
    def summary(self):
        steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.steps)
        return (
            f"Maintenance done in {self.duration_seconds:.1f} s ({steps}); "
            f"size {filesizeformat(self.size_before)} → "
            f"{filesizeformat(self.size_after)}."
        )

    def as_dict(self):
        return {
            "ok": True,
            "steps": [{"step": n, "seconds": round(s, 3)} for n, s in self.steps],
            "size_before": self.size_before,
            "size_after": self.size_after,
            "wal_before": self.wal_before,
            "wal_after": self.wal_after,
            "duration_seconds": round(self.duration_seconds, 3),
        }


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
