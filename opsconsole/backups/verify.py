"""Is this artifact a whole, untouched backup that this TinyLink can restore?
Checked before anything is touched."""

from dataclasses import dataclass
from pathlib import Path

from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import known_migrations, read_manifest
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError


@dataclass
class VerifyResult:
    path: Path
    manifest: dict


def verify_backup(artifact, *, alias="default"):
    """A VerifyResult for a backup that is whole and restorable here, else
    OpsError saying why. Reads and hashes the whole file: do it once per
    operation and pass the result on."""
    artifact = Path(artifact)
    if not artifact.is_file():
        raise OpsError(f"no backup file at {artifact}.")
    manifest = read_manifest(artifact)
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
    return VerifyResult(artifact, manifest)
