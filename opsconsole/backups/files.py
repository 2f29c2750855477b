"""Hashing backup files without reading them whole into memory."""

import hashlib

CHUNK = 1024 * 1024


def sha256_of(path):
    """Streamed: never the whole file in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
