"""The manifest beside every backup artifact: written last, it is what makes a
set of bytes on disk a backup."""

import json
from pathlib import Path

from django.conf import settings
from django.db.migrations.loader import MigrationLoader

from opsconsole.errors import OpsError

FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(artifact):
    return Path(f"{artifact}{MANIFEST_SUFFIX}")


def artifact_path(manifest):
    return Path(str(manifest)[: -len(MANIFEST_SUFFIX)])


def read_manifest(artifact):
    path = manifest_path(artifact)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise OpsError(
            f"{artifact} has no manifest ({path.name}); it is not a "
            "complete TinyLink backup."
        ) from None
    except (OSError, ValueError) as exc:
        raise OpsError(f"the manifest {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise OpsError(f"the manifest {path} is not a TinyLink backup manifest.")
    return data


def list_backups(directory):
    """Complete backups in `directory`, newest first: artifacts with a
    manifest. Partial files of an interrupted backup never appear."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for manifest in directory.glob(f"*{MANIFEST_SUFFIX}"):
        artifact = artifact_path(manifest)
        try:
            data = read_manifest(artifact)
        except OpsError:
            continue
        if artifact.exists():
            found.append((data.get("created_at", ""), artifact, data))
    found.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    return [(artifact, data) for _, artifact, data in found]


def latest_backup(directory=None):
    """The newest complete backup's artifact path; OpsError when there is none."""
    directory = directory or settings.BACKUP_DIR
    backups = list_backups(directory)
    if not backups:
        raise OpsError(f"no backup in {directory}; run `manage.py backup` first.")
    return backups[0][0]


def known_migrations():
    """(app, name) of every migration the code has, applied or not: what a
    manifest's migrations are compared with."""
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
