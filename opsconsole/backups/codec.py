"""How a backup is packed for the store: zstd-compressed, then optionally
encrypted to age public keys so the server can write backups it cannot
read. Both stream: neither the database nor its backup is ever in memory."""

from pathlib import Path

import pyrage
import zstandard
from django.conf import settings
from pyrage import x25519

from opsconsole.errors import OpsError

ZSTD_SUFFIX = ".zst"
AGE_SUFFIX = ".age"


def packing():
    """The manifest's "packing" for a new backup, from the settings."""
    return {
        "compression": "zstd" if settings.BACKUP_COMPRESSION_LEVEL > 0 else None,
        "encryption": "age" if settings.BACKUP_ENCRYPTION_RECIPIENTS else None,
        "recipients": list(settings.BACKUP_ENCRYPTION_RECIPIENTS),
    }


def suffix(packed):
    return (ZSTD_SUFFIX if packed.get("compression") == "zstd" else "") + (
        AGE_SUFFIX if packed.get("encryption") == "age" else ""
    )


def _recipients(keys):
    try:
        return [x25519.Recipient.from_str(key.strip()) for key in keys]
    except pyrage.RecipientError as exc:
        raise OpsError(
            f"BACKUP_ENCRYPTION_RECIPIENTS holds a key that is not an age public "
            f"key (age1…): {exc}"
        ) from exc


def _identities():
    text = settings.BACKUP_DECRYPTION_KEY
    if settings.BACKUP_DECRYPTION_KEY_FILE:
        try:
            text = Path(settings.BACKUP_DECRYPTION_KEY_FILE).read_text()
        except OSError as exc:
            raise OpsError(
                f"cannot read BACKUP_DECRYPTION_KEY_FILE "
                f"{settings.BACKUP_DECRYPTION_KEY_FILE}: {exc.strerror}"
            ) from exc
    keys = [
        line.strip()
        for line in text.splitlines()
        if line.strip().startswith("AGE-SECRET-KEY-")
    ]
    if not keys:
        raise OpsError(
            "this backup is encrypted: set BACKUP_DECRYPTION_KEY_FILE (or "
            "BACKUP_DECRYPTION_KEY) to the age private key (AGE-SECRET-KEY-…) "
            "that matches BACKUP_ENCRYPTION_RECIPIENTS."
        )
    try:
        return [x25519.Identity.from_str(key) for key in keys]
    except pyrage.IdentityError as exc:
        raise OpsError(f"the backup decryption key is not an age key: {exc}") from exc


def pack(raw_path, packed_path, packed):
    """Write `raw_path` to `packed_path` as `packed` says."""
    with open(raw_path, "rb") as source, open(packed_path, "wb") as target:
        reader = source
        if packed.get("compression") == "zstd":
            level = max(1, settings.BACKUP_COMPRESSION_LEVEL)
            reader = zstandard.ZstdCompressor(level=level).stream_reader(source)
        if packed.get("encryption") == "age":
            pyrage.encrypt_io(reader, target, _recipients(packed["recipients"]))
            return
        while chunk := reader.read(1 << 20):
            target.write(chunk)


def unpack(packed_path, raw_path, packed):
    """Write the database file held by `packed_path` to `raw_path`; OpsError
    for a missing or wrong key and for a damaged stream."""
    with open(packed_path, "rb") as source, open(raw_path, "wb") as target:
        writer = target
        decompressor = None
        if packed.get("compression") == "zstd":
            decompressor = zstandard.ZstdDecompressor().stream_writer(
                target, closefd=False
            )
            writer = decompressor
        try:
            if packed.get("encryption") == "age":
                pyrage.decrypt_io(source, writer, _identities())
            else:
                while chunk := source.read(1 << 20):
                    writer.write(chunk)
            if decompressor is not None:
                decompressor.flush()
        except pyrage.DecryptError as exc:
            raise OpsError(
                f"cannot decrypt {Path(packed_path).name}: {exc} (is "
                "BACKUP_DECRYPTION_KEY_FILE the key its recipients name?)"
            ) from exc
        except zstandard.ZstdError as exc:
            raise OpsError(
                f"{Path(packed_path).name} does not decompress: {exc}"
            ) from exc
