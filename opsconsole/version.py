"""Version, commit and uptime of this process."""

import os
import time
import tomllib
from functools import cache
from pathlib import Path

_STARTED = time.monotonic()
_ROOT = Path(__file__).resolve().parent.parent


def read_version(pyproject=_ROOT / "pyproject.toml"):
    """The project's version from pyproject.toml, its one written place (the
    image copies the file; the app is not installed as a package, so
    importlib.metadata does not know it)."""
    with open(pyproject, "rb") as file:
        return tomllib.load(file)["project"]["version"]


VERSION = read_version()


@cache
def commit():
    """GIT_COMMIT from the build, else read from .git without running git."""
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"][:40]
    git = _ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.exists():
                return ref_file.read_text().strip()
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
            return "unknown"
        return head
    except OSError:
        return "unknown"


def uptime_seconds():
    return time.monotonic() - _STARTED


def format_uptime(seconds):
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s"
