"""The manifest beside every backup artifact: written last, it is what makes a
set of bytes in the store a backup. It is signed with this installation's key
(HMAC-SHA256 over the canonical JSON, which holds the artifact's sha256), so a
file someone wrote into the backup directory is not taken for one of ours."""

import hmac
import json

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.utils.crypto import salted_hmac

from opsconsole.errors import OpsError

FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
# Beside a backup once a restore drill has loaded it: the proof that it
# restores, kept with the backup rather than only in the run history (which
# a restore rewinds).
DRILL_SUFFIX = ".drill.json"
# A manifest's purpose: a backup, or the copy a restore takes of the data it
# is about to replace (kept apart: never "the latest backup").
BACKUP, SAFETY = "backup", "safety"
_SIGNING_SALT = "tinylink.backups.manifest"


def manifest_name(name):
    return f"{name}{MANIFEST_SUFFIX}"


def drill_name(name):
    return f"{name}{DRILL_SUFFIX}"


def artifact_name(manifest):
    return manifest[: -len(MANIFEST_SUFFIX)]


def check_format(data, where):
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise OpsError(f"the manifest {where} is not a TinyLink backup manifest.")
    return data


def signing_keys():
    """The key new manifests are signed with, then the ones still accepted
    (rotation: the old key moves to BACKUP_SIGNING_KEY_FALLBACKS)."""
    if settings.BACKUP_SIGNING_KEY:
        return [settings.BACKUP_SIGNING_KEY, *settings.BACKUP_SIGNING_KEY_FALLBACKS]
    # Unset: derived from SECRET_KEY (salted, so neither reveals the other).
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _canonical(data):
    unsigned = {key: value for key, value in data.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"))


def _signature(data, key):
    return salted_hmac(
        _SIGNING_SALT, _canonical(data), secret=key, algorithm="sha256"
    ).hexdigest()


def sign(data):
    """`data` with its signature under this installation's current key."""
    return {**data, "signature": _signature(data, signing_keys()[0])}


def check_signature(data, name, *, trust_unsigned=False):
    """OpsError unless `data` was signed by a key of this installation; with
    `trust_unsigned` the operator vouches for an unsigned or foreign one."""
    if trust_unsigned:
        return
    signature = data.get("signature")
    if not isinstance(signature, str):
        raise OpsError(
            f"{name} has an unsigned manifest: it was not written by this "
            "TinyLink (or by one older than signed backups). If you know where "
            "it comes from, pass --trust-unsigned."
        )
    if not any(
        hmac.compare_digest(signature, _signature(data, key)) for key in signing_keys()
    ):
        raise OpsError(
            f"{name}'s manifest is not signed with this installation's "
            "BACKUP_SIGNING_KEY: it was altered, or made by another installation. "
            "If you know where it comes from, pass --trust-unsigned."
        )


def is_safety_copy(data):
    # Manifests from before "purpose" was written name safety copies by label.
    return data.get("purpose", BACKUP) == SAFETY or (
        "purpose" not in data and data.get("label") == "before-restore"
    )


def known_migrations():
    """(app, name) of every migration the code has, applied or not: what a
    manifest's migrations are compared with."""
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def known_tables():
    """Every table TinyLink's migrations create (many-to-many tables too)."""
    return {
        model._meta.db_table for model in apps.get_models(include_auto_created=True)
    } | {"django_migrations"}
