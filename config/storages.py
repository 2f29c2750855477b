"""STORAGES["backups"] from BACKUP_STORE_URL, for config/settings.py (kept
apart so the one settings file stays a list of values read from the
environment)."""

from django.core.exceptions import ImproperlyConfigured


def backup_storage(url, *, endpoint_url, region, timeout):
    """BACKUP_DIR's durable directory when `url` is empty, else the S3 bucket
    and prefix of s3://BUCKET/PREFIX (django-storages)."""
    if not url:
        # BACKUP_DIR is read when the store is opened; files 0600, dirs 0700.
        return {"BACKEND": "opsconsole.backups.store.DurableFileSystemStorage"}
    if not url.startswith("s3://"):
        raise ImproperlyConfigured(
            f"BACKUP_STORE_URL must be empty (BACKUP_DIR) or s3://bucket/prefix, "
            f"got {url!r}."
        )
    # Imported only for an S3 store: botocore adds some 17 MB to every
    # process that imports it, and most installations keep backups on disk.
    from botocore.config import Config as BotoConfig

    bucket, _, prefix = url[len("s3://") :].partition("/")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": prefix.strip("/"),
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": False,
            # Seconds, not minutes of retries, before one clear line.
            "client_config": BotoConfig(
                connect_timeout=timeout,
                read_timeout=timeout * 6,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }
