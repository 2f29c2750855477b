"""Durable files: written to NAME.partial, fsynced, renamed, directory fsynced.
A file either exists whole under its name or not at all."""

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1024 * 1024


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


def write_json_durably(path, data):
    with durable_write(path) as partial:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_of(path):
    """Streamed: never the whole file in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
