"""System checks (`manage.py check`) for operational mistakes."""

import ipaddress
import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register

from opsconsole.engines import engine_for

WORLD = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


@register("opsconsole")
def check_backup_dir(app_configs, **kwargs):
    # BACKUP_DIR is the store only without BACKUP_STORE_URL; every backup
    # and restore passes through the staging directory.
    names = ["BACKUP_STAGING_DIR"] + (
        [] if settings.BACKUP_STORE_URL else ["BACKUP_DIR"]
    )
    return [error for name in names for error in _writable_directory(name)]


def _writable_directory(name):
    path = Path(getattr(settings, name))
    if not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return [
                Error(
                    f"{name} {path} does not exist and cannot be created: "
                    f"{exc.strerror}.",
                    hint=f"Create it or point {name} at a writable directory.",
                    id="opsconsole.E001",
                )
            ]
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return [
            Error(
                f"{name} {path} is not a writable directory.",
                hint="Fix its permissions for the user that runs TinyLink.",
                id="opsconsole.E001",
            )
        ]
    return []


@register("opsconsole", deploy=True)
def check_sqlite_not_on_temporary_path(app_configs, **kwargs):
    engine = engine_for()
    if not settings.DEBUG and engine.is_temporary_path():
        return [
            Warning(
                f"The database {engine.connection.settings_dict['NAME']} is on a "
                "temporary path; "
                "it may be wiped on reboot.",
                hint="Set DATABASE_URL or DATA_DIR to a persistent volume.",
                id="opsconsole.W001",
            )
        ]
    return []


@register("opsconsole", deploy=True)
def check_secret_key_strength(app_configs, **kwargs):
    key = settings.SECRET_KEY
    weak = (
        len(key) < 50
        or len(set(key)) < 5
        or key.startswith(("django-insecure", "insecure-"))
    )
    if weak and not settings.DEBUG:
        return [
            Warning(
                "SECRET_KEY is short, repetitive or a development key.",
                hint="Use 50+ random characters, e.g. the one `make run` "
                "writes into .env.",
                id="opsconsole.W002",
            )
        ]
    return []


@register("opsconsole")
def check_metrics_exposure(app_configs, **kwargs):
    open_to_world = any(
        net.num_addresses >= world.num_addresses and net.version == world.version
        for net in settings.METRICS_ALLOWED_NETWORKS
        for world in WORLD
    )
    if open_to_world and not settings.METRICS_TOKEN:
        return [
            Warning(
                "/metrics is open to every address (METRICS_ALLOWED_NETWORKS "
                "includes 0.0.0.0/0 or ::/0) and no METRICS_TOKEN is set.",
                hint="Restrict METRICS_ALLOWED_NETWORKS to the Prometheus "
                "server or set METRICS_TOKEN.",
                id="opsconsole.W003",
            )
        ]
    return []


@register("opsconsole")
def check_redirect_status(app_configs, **kwargs):
    if settings.LINKS_REDIRECT_STATUS not in (301, 302, 307, 308):
        return [
            Error(
                f"LINKS_REDIRECT_STATUS is {settings.LINKS_REDIRECT_STATUS}.",
                hint="Use 301, 302, 307 or 308.",
                id="opsconsole.E002",
            )
        ]
    return []


@register("opsconsole", deploy=True)
def check_rate_limit_cache(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"]
    # The same default as deploy/gunicorn.conf.py.
    default_workers = min(2 * (os.cpu_count() or 1) + 1, 8)
    workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers)
    limited = settings.RATE_LIMIT_WRITES or settings.RATE_LIMIT_REDIRECTS
    if limited and workers > 1 and backend.endswith("LocMemCache"):
        return [
            Warning(
                f"Rate limits are counted in a per-process cache, but "
                f"WEB_CONCURRENCY={workers}: each worker counts alone.",
                hint="Set CACHE_URL=redis://... to share the counts.",
                id="opsconsole.W004",
            )
        ]
    return []


@register("opsconsole")
def check_metrics_multiprocess_dir(app_configs, **kwargs):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and not os.path.isdir(path):
        return [
            Error(
                f"PROMETHEUS_MULTIPROC_DIR {path} is not a directory.",
                hint="deploy/gunicorn.conf.py creates it; or unset it.",
                id="opsconsole.E003",
            )
        ]
    return []


PLACEHOLDER = "change_me"
MIN_SECRET_LENGTH = 16


@register("opsconsole")
def check_secrets_are_not_placeholders(app_configs, **kwargs):
    """The env examples in deploy/ ship CHANGE_ME for every secret. Left as it
    is, "Bearer CHANGE_ME" opens /metrics and /health/full to anyone who read
    the repository, and anyone can sign a backup this server trusts. An
    error, so that migrate, the first step of every deploy path, stops."""
    # SECRET_KEY's length is W002's (and Django's) business: a short one is
    # fine in development, where these examples are not used.
    weak = ["SECRET_KEY"] if PLACEHOLDER in settings.SECRET_KEY.lower() else []
    tokens = {
        "METRICS_TOKEN": [settings.METRICS_TOKEN],
        "BACKUP_SIGNING_KEY": [settings.BACKUP_SIGNING_KEY],
        "BACKUP_SIGNING_KEY_FALLBACKS": list(settings.BACKUP_SIGNING_KEY_FALLBACKS),
    }
    weak += [
        name
        for name, values in tokens.items()
        for value in values
        if value
        and (PLACEHOLDER in value.lower() or len(value) < MIN_SECRET_LENGTH)
    ]
    if not weak:
        return []
    names = ", ".join(dict.fromkeys(weak))
    return [
        Error(
            f"{names}: still the example's CHANGE_ME, or shorter than "
            f"{MIN_SECRET_LENGTH} characters.",
            hint="Give each its own random value, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'.",
            id="opsconsole.E004",
        )
    ]
