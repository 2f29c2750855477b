"""A real S3 API on localhost for the backup-store tests: moto's server mode,
started as its own process (never a mocked object in the test process)."""

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import boto3

from tests.servers import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "tinylink-test",
    "AWS_SECRET_ACCESS_KEY": "tinylink-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server(log_dir):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(log_dir) / "moto.log", "wb")  # noqa: SIM115 - closed below
    moto_server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CREDENTIALS},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def new_bucket(endpoint_url):
    name = f"tinylink-{uuid.uuid4().hex[:12]}"
    client(endpoint_url).create_bucket(Bucket=name)
    return name


def client(endpoint_url):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def store_env(endpoint_url, bucket, prefix="backups"):
    """The environment that points a TinyLink process at that bucket."""
    return {
        **CREDENTIALS,
        "BACKUP_STORE_URL": f"s3://{bucket}/{prefix}",
        "BACKUP_S3_ENDPOINT_URL": endpoint_url,
        "BACKUP_S3_REGION": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def store_settings(endpoint_url, bucket, prefix="backups"):
    """STORAGES["backups"] as config/settings.py builds it from store_env."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": prefix,
            "endpoint_url": endpoint_url,
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": False,
        },
    }
