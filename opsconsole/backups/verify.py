"""Is this a whole, untouched backup of this installation that this TinyLink
can restore? Checked before anything is touched: the manifest first (its
signature, date and claims), then the file itself, fetched from the store,
hashed, unpacked and its schema read."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from opsconsole.backups import codec
from opsconsole.backups.catalog import StoredBackup, latest_backup, locate
from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import (
    check_signature,
    known_migrations,
    known_tables,
)
from opsconsole.backups.staging import staging_area, staging_file
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError

# Clocks of two hosts may disagree this much; a backup from further in the
# future than that was not made by a clock, but by hand.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class VerifyResult:
    backup: StoredBackup
    # The backup's database file, unpacked on this host: valid only inside
    # verified_backup's block.
    path: Path

    @property
    def manifest(self):
        return self.backup.manifest


@contextmanager
def verified_backup(reference=None, *, alias="default", trust_unsigned=False):
    """Yield a VerifyResult for `reference` (a StoredBackup, a name in the
    store or a local path; the newest backup when None), or raise OpsError
    saying why it cannot be restored here. Fetches and hashes the whole file:
    do it once per operation and pass the result on."""
    if isinstance(reference, StoredBackup):
        backup = reference
    else:
        backup = locate(reference) if reference else latest_backup()
    engine = engine_for(alias)
    _check_manifest(backup, engine, trust_unsigned)
    packing = backup.manifest.get("packing") or {}
    local = backup.path
    with staging_area() as staging:
        if local is not None and not codec.suffix(packing):
            # An unpacked file in a local store is used where it lies.
            _check_file(backup, local.stat().st_size, sha256_of(local))
            raw = local
        else:
            packed = staging_file(staging, "download")
            try:
                digest = backup.store.download(backup.name, packed)
            except FileNotFoundError:
                raise OpsError(f"no backup file at {backup.location}.") from None
            _check_file(backup, packed.stat().st_size, digest)
            raw = packed
            if codec.suffix(packing):
                raw = staging_file(staging, "raw")
                codec.unpack(packed, raw, packing)
                packed.unlink()
        engine.read_snapshot(raw)
        engine.check_schema(raw, known_tables=known_tables(), name=backup.name)
        yield VerifyResult(backup, raw)


def verify_backup(reference=None, *, alias="default", trust_unsigned=False):
    """verified_backup, for a caller that only wants the verdict."""
    with verified_backup(
        reference, alias=alias, trust_unsigned=trust_unsigned
    ) as verified:
        return verified


def _check_manifest(backup, engine, trust_unsigned):
    manifest, name = backup.manifest, backup.name
    check_signature(manifest, name, trust_unsigned=trust_unsigned)
    try:
        created = datetime.fromisoformat(manifest["created_at"])
    except (KeyError, TypeError, ValueError):
        raise OpsError(f"{name}'s manifest has no valid created_at.") from None
    if created.tzinfo is None or created > timezone.now() + CLOCK_SKEW:
        raise OpsError(
            f"{name} claims to be made at {manifest['created_at']}, in the "
            "future: refusing it (a forged or mis-dated manifest)."
        )
    integrity = manifest.get("integrity", {"ok": True})
    if not integrity.get("ok"):
        problems = integrity.get("problems") or ["unknown"]
        raise OpsError(
            f"{name} is a copy of a damaged database (its integrity check "
            f"at backup time found: {problems[0]}). Use an older backup."
        )
    if manifest.get("engine") != engine.vendor:
        raise OpsError(
            f"{name} is a {manifest.get('engine')} backup; this "
            f"database is {engine.vendor}."
        )
    unknown = {tuple(m) for m in manifest.get("migrations", [])} - known_migrations()
    if unknown:
        app, migration = sorted(unknown)[0]
        raise OpsError(
            f"{name} was made by a newer TinyLink (migration "
            f"{app}.{migration} is unknown here); upgrade before restoring."
        )


def _check_file(backup, size, sha256):
    expected = backup.manifest.get("artifact", {})
    if size != expected.get("size"):
        raise OpsError(
            f"{backup.name} is {size} bytes but its manifest says "
            f"{expected.get('size')}: truncated or replaced. Use another "
            "backup."
        )
    if sha256 != expected.get("sha256"):
        raise OpsError(
            f"{backup.name} does not match its manifest's sha256: the "
            "file is corrupt. Use another backup."
        )
