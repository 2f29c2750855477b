"""Scratch space for dumps on their way to the store and backups on their
way back: BACKUP_STAGING_DIR, one private directory per operation, removed
when it ends, and left-overs of killed processes removed by the next one."""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from opsconsole.backups.store import private_directory

_PREFIX = "op-"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(root):
    for directory in root.glob(f"{_PREFIX}*"):
        pid = directory.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def staging_area():
    """A private directory for one operation's files; gone afterwards."""
    root = private_directory(settings.BACKUP_STAGING_DIR)
    _remove_leftovers(root)
    directory = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def staging_file(directory, label):
    """An empty file only its owner may read, for a dump or an unpacked copy."""
    path = Path(directory) / label
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path
