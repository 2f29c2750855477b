"""Backup files: written durably (links.files: NAME.partial, fsync, rename,
fsync the directory) and hashed without reading them whole into memory."""

import hashlib
import json

from links.files import durable_write

CHUNK = 1024 * 1024


def write_json_durably(path, data):
    with durable_write(path, mode=0o600) as partial:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_of(path):
    """Streamed: never the whole file in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
