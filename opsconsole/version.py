"""Version, commit and uptime of this process."""

import os
import time
from functools import cache
from pathlib import Path

VERSION = "0.1.0"
_STARTED = time.monotonic()
_ROOT = Path(__file__).resolve().parent.parent


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
