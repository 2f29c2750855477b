"""What the backup store holds: complete backups (an artifact with its
manifest), newest first, with their drill records; and orphans, artifacts
whose manifest never came (a backup killed after its upload)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from django.utils import timezone

from opsconsole.backups.manifest import (
    BACKUP,
    DRILL_SUFFIX,
    MANIFEST_SUFFIX,
    SAFETY,
    artifact_name,
    check_format,
    check_signature,
    drill_name,
    is_safety_copy,
    manifest_name,
)
from opsconsole.backups.store import backup_store, local_store
from opsconsole.errors import OpsError

ARTIFACT_PREFIX = "tinylink-"
# An artifact without a manifest younger than this may be a backup still
# being uploaded; older, it is an orphan.
ORPHAN_AFTER = timedelta(hours=1)


@dataclass
class StoredBackup:
    store: object
    name: str
    manifest: dict

    @property
    def created_at(self):
        return datetime.fromisoformat(self.manifest["created_at"])

    @property
    def size(self):
        return self.manifest["artifact"]["size"]

    @property
    def is_safety_copy(self):
        return is_safety_copy(self.manifest)

    @property
    def integrity_ok(self):
        return self.manifest.get("integrity", {"ok": True}).get("ok", False)

    @cached_property
    def signed(self):
        """Signed by a key of this installation (a forged or foreign manifest
        is not: it must not make the backups look fresh)."""
        try:
            check_signature(self.manifest, self.name)
        except OpsError:
            return False
        return True

    @property
    def location(self):
        """Where it is, for people: a path, or s3://bucket/prefix/name."""
        return self.store.describe(self.name)

    @property
    def path(self):
        """The artifact's local file, when the store is a local directory."""
        return self.store.local_path(self.name)

    @cached_property
    def drill(self):
        """The signed record of its newest drill, or None (never drilled, or
        a record that is not this installation's or not of this very file)."""
        try:
            record = self.store.read_json(drill_name(self.name))
            check_signature(record, drill_name(self.name))
        except (OSError, ValueError, OpsError):
            return None
        if record.get("sha256") != self.manifest["artifact"]["sha256"]:
            return None
        return record

    @property
    def drilled_ok(self):
        return bool(self.drill and self.drill.get("passed"))

    @property
    def schema(self):
        """The newest migration of the links app: the shape of its data."""
        names = [n for app, n in self.manifest.get("migrations", []) if app == "links"]
        return f"links.{max(names)}" if names else "?"

    def as_dict(self):
        drill = self.drill
        return {
            "name": self.name,
            "created_at": self.manifest["created_at"],
            "size": self.size,
            "engine": self.manifest.get("engine"),
            "schema": self.schema,
            "purpose": SAFETY if self.is_safety_copy else BACKUP,
            "verified": self.integrity_ok,
            "drilled": None if drill is None else bool(drill.get("passed")),
            "rto_seconds": drill.get("rto_seconds") if drill else None,
            "encrypted": bool((self.manifest.get("packing") or {}).get("encryption")),
            "where": self.location,
        }


def read_backup(store, name):
    """The backup `name` in `store`; OpsError when it is not a complete one."""
    where = store.describe(manifest_name(name))
    try:
        manifest = store.read_json(manifest_name(name))
    except FileNotFoundError:
        raise OpsError(
            f"{store.describe(name)} has no manifest ({manifest_name(name)}); it "
            "is not a complete TinyLink backup."
        ) from None
    except (OSError, ValueError) as exc:
        raise OpsError(f"the manifest {where} is unreadable: {exc}") from None
    return StoredBackup(store, name, check_format(manifest, where))


def list_backups(*, purpose=None, store=None):
    """Complete backups in the store, newest first. With `purpose` (BACKUP or
    SAFETY) only those: a restore's safety copy is never a backup."""
    store = store or backup_store()
    names = set(store.names())
    found = []
    for manifest in names:
        if not manifest.endswith(MANIFEST_SUFFIX):
            continue
        name = artifact_name(manifest)
        if name not in names:
            continue
        try:
            backup = read_backup(store, name)
            backup.created_at  # noqa: B018 - a manifest without a date is no backup
        except (OpsError, KeyError, TypeError, ValueError):
            continue
        if purpose is not None and backup.is_safety_copy != (purpose == SAFETY):
            continue
        found.append(backup)
    found.sort(key=lambda b: (b.manifest["created_at"], b.name), reverse=True)
    return found


def latest_backup(store=None):
    """The newest backup (never a safety copy); OpsError when there is none."""
    store = store or backup_store()
    backups = list_backups(purpose=BACKUP, store=store)
    if not backups:
        raise OpsError(f"no backup in {store.where()}; run `manage.py backup` first.")
    return backups[0]


def locate(reference, store=None):
    """The backup an operator named: a name in the store, or the path of a
    local file with its manifest beside it (a copy brought from elsewhere)."""
    store = store or backup_store()
    reference = str(reference)
    path = Path(reference)
    if store.is_local and path.parent.resolve() == Path(store.where()).resolve():
        return read_backup(store, path.name)
    if "/" not in reference:
        return read_backup(store, reference)
    if not path.is_file():
        raise OpsError(f"no backup file at {reference}.")
    # A store over the file's own directory; nothing prunes it, and a drill
    # records its outcome beside the file.
    return read_backup(local_store(path.parent), path.name)


def orphans(store=None, *, now=None):
    """Artifacts without a manifest, older than ORPHAN_AFTER: never a
    backup, only space."""
    store = store or backup_store()
    now = now or timezone.now()
    names = set(store.names())
    found = []
    for name in sorted(names):
        if (
            not name.startswith(ARTIFACT_PREFIX)
            or name.endswith((MANIFEST_SUFFIX, DRILL_SUFFIX))
            or manifest_name(name) in names
        ):
            continue
        try:
            modified = store.modified_time(name)
        except (OpsError, FileNotFoundError, NotImplementedError):
            continue
        if now - modified > ORPHAN_AFTER:
            found.append(name)
    return found
