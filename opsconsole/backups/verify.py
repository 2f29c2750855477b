"""Is this artifact a whole, untouched backup of this installation that this
TinyLink can restore? Checked before anything is touched."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import (
    check_signature,
    known_migrations,
    known_tables,
    read_manifest,
)
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError

# Clocks of two hosts may disagree this much; a backup from further in the
# future than that was not made by a clock, but by hand.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class VerifyResult:
    path: Path
    manifest: dict


def verify_backup(artifact, *, alias="default", trust_unsigned=False):
    """A VerifyResult for a backup that is whole and restorable here, else
    OpsError saying why. Reads and hashes the whole file: do it once per
    operation and pass the result on."""
    artifact = Path(artifact)
    if not artifact.is_file():
        raise OpsError(f"no backup file at {artifact}.")
    manifest = read_manifest(artifact)
    check_signature(manifest, artifact.name, trust_unsigned=trust_unsigned)
    _check_created_at(manifest, artifact.name)
    expected = manifest.get("artifact", {})
    size = artifact.stat().st_size
    if size != expected.get("size"):
        raise OpsError(
            f"{artifact.name} is {size} bytes but its manifest says "
            f"{expected.get('size')}: truncated or replaced. Use another "
            "backup."
        )
    if sha256_of(artifact) != expected.get("sha256"):
        raise OpsError(
            f"{artifact.name} does not match its manifest's sha256: the "
            "file is corrupt. Use another backup."
        )
    integrity = manifest.get("integrity", {"ok": True})
    if not integrity.get("ok"):
        problems = integrity.get("problems") or ["unknown"]
        raise OpsError(
            f"{artifact.name} is a copy of a damaged database (its integrity check "
            f"at backup time found: {problems[0]}). Use an older backup."
        )
    engine = engine_for(alias)
    if manifest.get("engine") != engine.vendor:
        raise OpsError(
            f"{artifact.name} is a {manifest.get('engine')} backup; this "
            f"database is {engine.vendor}."
        )
    unknown = {tuple(m) for m in manifest.get("migrations", [])} - known_migrations()
    if unknown:
        app, name = sorted(unknown)[0]
        raise OpsError(
            f"{artifact.name} was made by a newer TinyLink (migration "
            f"{app}.{name} is unknown here); upgrade before restoring."
        )
    engine.read_snapshot(artifact)
    engine.check_schema(artifact, known_tables=known_tables())
    return VerifyResult(artifact, manifest)


def _check_created_at(manifest, name):
    try:
        created = datetime.fromisoformat(manifest["created_at"])
    except (KeyError, TypeError, ValueError):
        raise OpsError(f"{name}'s manifest has no valid created_at.") from None
    if created.tzinfo is None or created > timezone.now() + CLOCK_SKEW:
        raise OpsError(
            f"{name} claims to be made at {manifest['created_at']}, in the "
            "future: refusing it (a forged or mis-dated manifest)."
        )
