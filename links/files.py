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
def durable_write(path):
    """Yield the .partial path to write; on success fsync + rename + fsync dir.
    On failure the partial file is removed."""
    path = Path(path)
    partial = partial_path(path)
    partial.unlink(missing_ok=True)
    try:
        yield partial
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
        fsync_dir(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
