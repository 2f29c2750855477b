"""Hot, consistent backups that exist whole in the store or not at all."""

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from opsconsole import version
from opsconsole.backups import codec
from opsconsole.backups.files import sha256_of
from opsconsole.backups.locks import operation_lock
from opsconsole.backups.manifest import BACKUP, FORMAT, manifest_name, sign
from opsconsole.backups.retention import prune_backups
from opsconsole.backups.staging import staging_area, staging_file
from opsconsole.backups.store import backup_store, local_store
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError
from opsconsole.results import OperationResult


@dataclass
class BackupResult(OperationResult):
    name: str
    location: str
    manifest: dict
    duration_seconds: float
    pruned: list = field(default_factory=list)
    store: object = None

    @property
    def path(self):
        """The artifact's local file when the store is a directory, else None."""
        return self.store.local_path(self.name) if self.store else None

    @property
    def size(self):
        return self.manifest["artifact"]["size"]

    @property
    def sha256(self):
        return self.manifest["artifact"]["sha256"]

    @property
    def problems(self):
        return self.manifest["integrity"]["problems"]

    @property
    def ok(self):
        return not self.problems

    @property
    def summary(self):
        if self.problems:
            return (
                f"Backed up to {self.location}, but the copy FAILED its integrity "
                f"check ({self.problems[0]}): the database may be damaged. The "
                "file is kept and never counted as a good backup; run "
                "check_integrity."
            )
        raw = self.manifest.get("raw_size")
        packed = f" from {filesizeformat(raw)}" if raw and raw != self.size else ""
        return (
            f"Backed up to {self.location} ({filesizeformat(self.size)}{packed}, "
            f"{self.duration_seconds:.1f} s); pruned {len(self.pruned)}."
        )

    @property
    def artifact(self):
        return {"path": self.location, "size": self.size, "sha256": self.sha256}

    def as_dict(self):
        return {
            "ok": self.ok,
            "problems": self.problems,
            "name": self.name,
            "path": self.location,
            "size": self.size,
            "raw_size": self.manifest.get("raw_size"),
            "sha256": self.sha256,
            "packing": self.manifest.get("packing"),
            "duration_seconds": round(self.duration_seconds, 3),
            "row_counts": self.manifest["row_counts"],
            "pruned": self.pruned,
        }

    def details(self):
        return [f"pruned {name}" for name in self.pruned]


def _base_name(engine, label, now):
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    suffix = ""
    if label:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label)
        suffix = "-" + safe.strip("-")[:40]
    return f"tinylink-{engine.vendor}-{stamp}{suffix}{engine.artifact_suffix}"


def create_backup(
    *,
    output_dir=None,
    keep=None,
    label="",
    progress=None,
    alias="default",
    lock=True,
    purpose=BACKUP,
):
    """Back up the live database into the backup store (or a local
    `output_dir`), then prune to `keep` (BACKUP_KEEP) backups. Safe while the
    app serves traffic."""
    store = local_store(output_dir) if output_dir else backup_store()
    keep = settings.BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise OpsError("--keep must be at least 1.")
    engine = engine_for(alias)
    started = time.monotonic()
    now = datetime.now(UTC)
    packing = codec.packing()
    name = _base_name(engine, label, now) + codec.suffix(packing)
    lock_cm = operation_lock("backup", alias) if lock else nullcontext()
    with lock_cm, staging_area() as staging:
        raw = staging_file(staging, "dump")
        snapshot = engine.dump(raw, progress=progress)
        # A backup of a damaged database is kept (it may hold the newest
        # data) but says so, and retention never counts it as good.
        problems = engine.check_artifact(raw)
        packed = raw
        if codec.suffix(packing):
            if progress:
                progress("packing", None)
            packed = staging_file(staging, "packed")
            codec.pack(raw, packed, packing)
        manifest = sign(
            {
                "format": FORMAT,
                "purpose": purpose,
                "engine": engine.vendor,
                "server_version": engine.server_version(),
                "created_at": now.isoformat(),
                "app_version": version.VERSION,
                "commit": version.commit(),
                "label": label,
                "migrations": sorted([list(m) for m in snapshot.migrations]),
                "row_counts": snapshot.row_counts,
                "integrity": {"ok": not problems, "problems": problems},
                "raw_size": os.path.getsize(raw),
                "packing": packing,
                "artifact": {
                    "name": name,
                    "size": os.path.getsize(packed),
                    "sha256": sha256_of(packed),
                },
            }
        )
        if progress:
            progress(f"storing in {store.where()}", None)
        store.upload(packed, name)
        # Written last: only now is this a backup (catalog.list_backups).
        store.write_json(manifest_name(name), manifest)
        # Retention only after the new backup is complete. Its sha256 was
        # just computed from the file, so retention need not hash it again.
        pruned = prune_backups(
            store=store, keep=keep, known_good=None if problems else name
        ).deleted
    return BackupResult(
        name=name,
        location=store.describe(name),
        manifest=manifest,
        duration_seconds=time.monotonic() - started,
        pruned=pruned,
        store=store,
    )
