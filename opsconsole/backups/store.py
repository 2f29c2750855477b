"""Where backups live: Django's STORAGES["backups"] — BACKUP_DIR on this host
by default, an S3-compatible bucket with BACKUP_STORE_URL=s3://… — so every
operation (list, verify, restore, drill, prune, health) works the same
against either, and a second host sees the same backups.

A backup is a few flat names in the store: the artifact, its manifest
(written last: what makes it a backup) and, once drilled, its drill record.
"""

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.module_loading import import_string

from links.files import durable_write
from opsconsole.errors import OpsError

CHUNK = 1024 * 1024
# What a store's backend raises when it cannot be reached or refuses: one
# line for the operator, never a traceback. A missing file is not among them:
# callers tell "not there" from "cannot ask".
_STORE_ERRORS = (OSError, BotoCoreError, ClientError)


def _store_call(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FileNotFoundError:
            raise
        except _STORE_ERRORS as exc:
            raise OpsError(f"the backup store {self.where()} failed: {exc}") from exc

    return wrapper


_LOCAL = "opsconsole.backups.store.DurableFileSystemStorage"


class DurableFileSystemStorage(FileSystemStorage):
    """A directory where a file appears whole under its name or not at all
    (written to NAME.partial, fsynced, renamed, the directory fsynced), and
    never replaced: backups are immutable once written. Owner-only: backups
    hold password and token hashes."""

    def __init__(self, **options):
        options.setdefault("file_permissions_mode", 0o600)
        options.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**options)

    def _save(self, name, content):
        path = Path(self.path(name))
        private_directory(path.parent)
        mode = self.file_permissions_mode or 0o600
        with (
            durable_write(path, mode=mode) as partial,
            open(partial, "wb") as handle,
        ):
            for chunk in content.chunks(CHUNK):
                handle.write(chunk)
        return name


def private_directory(directory):
    """Create `directory` (0700), or make an existing one of ours 0700: backups
    hold password and token hashes, nobody else's to read."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = directory.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            directory.chmod(0o700)
    except OSError as exc:
        raise OpsError(
            f"cannot create the directory {directory}: {exc.strerror}"
        ) from exc
    return directory


@dataclass
class BackupStore:
    storage: object

    @property
    def is_local(self):
        return isinstance(self.storage, FileSystemStorage)

    def where(self):
        """For people: the directory, or s3://bucket/prefix."""
        if self.is_local:
            return str(self.storage.location)
        prefix = getattr(self.storage, "location", "")
        bucket = getattr(self.storage, "bucket_name", "?")
        return f"s3://{bucket}/{prefix}".rstrip("/")

    def describe(self, name):
        """Where one backup file is, for people and for the run history."""
        if self.is_local:
            return self.storage.path(name)
        return f"{self.where()}/{name}"

    def local_path(self, name):
        """The file itself, when the store is this host's directory."""
        return Path(self.storage.path(name)) if self.is_local else None

    @_store_call
    def names(self):
        """Every file name at the store's top level; [] when it does not exist
        yet (a store nobody has backed up to)."""
        try:
            _, files = self.storage.listdir("")
        except FileNotFoundError:
            return []
        return files

    @_store_call
    def modified_time(self, name):
        return self.storage.get_modified_time(name)

    @_store_call
    def exists(self, name):
        return self.storage.exists(name)

    @_store_call
    def size(self, name):
        return self.storage.size(name)

    @_store_call
    def read_json(self, name):
        with self.storage.open(name, "rb") as handle:
            return json.loads(handle.read())

    @_store_call
    def write_json(self, name, data, *, replace=False):
        """A small JSON file; `replace` for a record that is rewritten (a
        drill record), never for a manifest."""
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        if replace and self.storage.exists(name):
            self.storage.delete(name)
        self._put(name, ContentFile(text.encode()))

    @_store_call
    def upload(self, path, name):
        """Put the local file at `path` into the store under `name`."""
        with open(path, "rb") as handle:
            self._put(name, File(handle))

    @_store_call
    def download(self, name, path):
        """Copy `name` to the local `path` (0600); returns its sha256."""
        digest = hashlib.sha256()
        with (
            self.storage.open(name, "rb") as source,
            open(
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
            ) as target,
        ):
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        return digest.hexdigest()

    @_store_call
    def delete(self, name):
        self.storage.delete(name)

    def _put(self, name, content):
        # Names are unique (a timestamp), and a store that renamed a file to
        # avoid a clash would break the manifest's link to its artifact.
        if self.storage.exists(name):
            raise OpsError(f"{self.describe(name)} exists already; not replacing it.")
        saved = self.storage.save(name, content)
        if saved != name:
            raise OpsError(f"the backup store saved {name} as {saved}.")


def local_store(directory):
    """A store over a local directory (`backup --output-dir`, a file brought
    from elsewhere)."""
    return BackupStore(DurableFileSystemStorage(location=directory))


def backup_store():
    """The configured store. Built on each call (cheap): tests and
    operators may change BACKUP_DIR, which the local store follows."""
    config = settings.STORAGES["backups"]
    options = dict(config.get("OPTIONS", {}))
    if config["BACKEND"] == _LOCAL:
        options.setdefault("location", settings.BACKUP_DIR)
    return BackupStore(import_string(config["BACKEND"])(**options))
