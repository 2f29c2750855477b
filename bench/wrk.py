"""Running wrk with bench/redirects.lua and reading what it prints.

Imported by bench/redirects.py (as `wrk`) and by its tests (as `bench.wrk`),
so it imports nothing else from bench/.
"""

import math
import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "redirects.lua"
INSTALL_HINT = "wrk is not installed: apt-get install -y wrk"
# Latencies above wrk's --timeout fall out of its histogram (they count as
# "timeout" errors, though their answers still arrive and count): a wide
# histogram keeps today's slow tail in the percentiles.
TIMEOUT_S = 10

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"
_PERCENTILE = re.compile(rf"^\s+(\d+(?:\.\d+)?)%\s+{_TIME}\s*$", re.MULTILINE)
_REQUESTS = re.compile(rf"^\s+(\d+) requests in {_TIME}, ", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_NON_2XX_3XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TALLY = re.compile(r"^redirects\.lua:((?: \w+=\d+)+)\s*$", re.MULTILINE)


def wrk_path():
    """The wrk binary; SystemExit with the install hint when there is none."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


def wrk_command(url, *, links, prefix, window_s, drain_s, connections, threads, seed):
    """wrk sends redirects for window_s, then waits drain_s with nothing new
    sent (redirects.lua), so every answer is in before it stops."""
    return [
        wrk_path(),
        "--latency",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={math.ceil(window_s + drain_s)}s",
        f"--timeout={TIMEOUT_S}s",
        f"--script={SCRIPT}",
        url,
        "--",
        str(links),
        prefix,
        str(round(window_s * 1000)),
        str(seed),
    ]


def run_wrk(url, *, window_s, **options):
    """Run wrk against url; its parsed output (parse_wrk_output) plus rps."""
    command = wrk_command(url, window_s=window_s, **options)
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=window_s + 120, check=False
    )
    if completed.returncode != 0 or "redirects.lua:" not in completed.stdout:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}): "
            f"{(completed.stderr or completed.stdout).strip()[-2000:]}"
        )
    result = parse_wrk_output(completed.stdout)
    result["window_s"] = window_s
    result["rps"] = result["tally"]["on_time"] / window_s
    return result


def parse_wrk_output(text):
    """What `wrk --latency -s redirects.lua` printed, as numbers.

    Returns requests (all completed answers), duration_s, wrk_rps (wrk's own
    requests / duration, which counts the idle drain too), latency_s
    {50: …, 75: …, 90: …, 99: …}, socket_errors {connect, read, write,
    timeout}, non_2xx_3xx (wrk counts statuses above 399 only), tally
    (redirects.lua's counts: sent, redirects, on_time, other, late, health)
    and unanswered (redirect requests sent whose answer never came).
    """
    requests = _REQUESTS.search(text)
    rps = _RPS.search(text)
    tally = _TALLY.search(text)
    if not (requests and rps and tally):
        raise ValueError(f"not the output of wrk with redirects.lua:\n{text}")
    socket = _SOCKET_ERRORS.search(text)
    non_2xx_3xx = _NON_2XX_3XX.search(text)
    counts = {
        name: int(value)
        for name, value in (pair.split("=") for pair in tally.group(1).split())
    }
    return {
        "requests": int(requests.group(1)),
        "duration_s": _seconds(requests.group(2), requests.group(3)),
        "wrk_rps": float(rps.group(1)),
        "latency_s": {
            int(float(pct)): _seconds(value, unit)
            for pct, value, unit in _PERCENTILE.findall(text)
        },
        "socket_errors": dict(
            zip(
                ("connect", "read", "write", "timeout"),
                (int(n) for n in socket.groups()) if socket else (0, 0, 0, 0),
                strict=True,
            )
        ),
        "non_2xx_3xx": int(non_2xx_3xx.group(1)) if non_2xx_3xx else 0,
        "tally": counts,
        "unanswered": counts["sent"] - counts["redirects"] - counts["other"],
    }


def _seconds(value, unit):
    return float(value) * _UNITS_S[unit]
