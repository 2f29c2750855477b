"""Durable files: written to NAME.partial, fsynced, renamed, directory fsynced.
A file either exists whole under its name or not at all."""

import os
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def partial_path(path):
    return Path(f"{path}.partial")


@contextmanager
def durable_write(path, *, mode=None):
    """Yield the .partial path to write; on success fsync + rename + fsync dir.
    On failure the partial file is removed. With `mode` (e.g. 0o600) the
    partial file is created with it before the caller writes a byte, so the
    data is never readable by others, not even for a moment; writing into it
    (open "w"/"wb", sqlite3.connect) keeps the mode."""
    path = Path(path)
    partial = partial_path(path)
    partial.unlink(missing_ok=True)
    try:
        if mode is not None:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        yield partial
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
        fsync_dir(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
