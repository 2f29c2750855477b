"""Hot, consistent backups that exist whole or not at all."""

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from links.files import durable_write
from opsconsole import version
from opsconsole.backups.files import sha256_of, write_json_durably
from opsconsole.backups.locks import operation_lock
from opsconsole.backups.manifest import BACKUP, FORMAT, manifest_path, sign
from opsconsole.backups.retention import prune_backups
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError
from opsconsole.results import OperationResult


@dataclass
class BackupResult(OperationResult):
    path: Path
    manifest: dict
    duration_seconds: float
    pruned: list = field(default_factory=list)

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
                f"Backed up to {self.path}, but the copy FAILED its integrity "
                f"check ({self.problems[0]}): the database may be damaged. The "
                "file is kept and never counted as a good backup; run "
                "check_integrity."
            )
        return (
            f"Backed up to {self.path} ({filesizeformat(self.size)}, "
            f"{self.duration_seconds:.1f} s); pruned {len(self.pruned)}."
        )

    @property
    def artifact(self):
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    def as_dict(self):
        return {
            "ok": self.ok,
            "problems": self.problems,
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "duration_seconds": round(self.duration_seconds, 3),
            "row_counts": self.manifest["row_counts"],
            "pruned": [str(p) for p in self.pruned],
        }

    def details(self):
        return [f"pruned {path}" for path in self.pruned]


def _artifact_name(engine, label, now):
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
    """Back up the live database into output_dir (BACKUP_DIR), then prune to
    `keep` (BACKUP_KEEP) backups. Safe while the app serves traffic."""
    output_dir = Path(output_dir or settings.BACKUP_DIR)
    keep = settings.BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise OpsError("--keep must be at least 1.")
    prepare_directory(output_dir)
    engine = engine_for(alias)
    started = time.monotonic()
    now = datetime.now(UTC)
    artifact = output_dir / _artifact_name(engine, label, now)
    lock_cm = operation_lock("backup", alias) if lock else nullcontext()
    with lock_cm:
        _remove_leftover_partials(output_dir)
        # Backups hold password and token hashes: the owner's alone.
        with durable_write(artifact, mode=0o600) as partial:
            snapshot = engine.dump(partial, progress=progress)
        # A backup of a damaged database is kept (it may hold the newest
        # data) but says so, and retention never counts it as good.
        problems = engine.check_artifact(artifact)
        manifest = {
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
            "artifact": {
                "name": artifact.name,
                "size": artifact.stat().st_size,
                "sha256": sha256_of(artifact),
            },
        }
        # Written last: only now is this a backup (manifest.list_backups).
        manifest = sign(manifest)
        write_json_durably(manifest_path(artifact), manifest)
        # Retention only after the new backup is complete. Its sha256 was
        # just computed from the file, so retention need not hash it again.
        pruned = prune_backups(
            directory=output_dir,
            keep=keep,
            known_good=None if problems else artifact,
        ).deleted
    return BackupResult(artifact, manifest, time.monotonic() - started, pruned)


def prepare_directory(directory):
    """Create the backup directory (0700), or make an existing one of ours
    0700: what is in it is nobody else's to read."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = directory.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            directory.chmod(0o700)
    except OSError as exc:
        raise OpsError(
            f"cannot create the backup directory {directory}: {exc.strerror}"
        ) from exc


def _remove_leftover_partials(directory):
    """Partial files of a backup that was killed: under the operations lock no
    other backup can be writing them, and they are never a backup."""
    for leftover in directory.glob("tinylink-*.partial*"):
        leftover.unlink(missing_ok=True)
