"""An uptime check from outside: one round probes /health/live,
/health/ready, /health/full and optionally a short link, as a user or a
monitoring service would reach them (the standard library's urllib, no
redirects followed). `manage.py uptime_check` runs rounds and reports."""

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import partial
from urllib.parse import quote, urlsplit

from opsconsole.errors import OpsError

REDIRECTS = {301, 302, 307, 308}


@dataclass(frozen=True)
class Probe:
    check: str
    status: str  # the HTTP status, or "error" when there was no answer
    ms: float | None
    detail: str
    ok: bool


def base_url(url):
    """`url` without a trailing slash; OpsError for anything but an
    http(s) URL with a host and no query."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise OpsError(f"--url {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OpsError(
            f"--url {url!r} is not an http:// or https:// URL with a host, "
            "e.g. https://sho.rt"
        )
    if parts.query or parts.fragment:
        raise OpsError(f"--url {url!r}: give the base URL, without ? or #")
    return url.rstrip("/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is the answer the check looks at, not something to follow.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _get(url, *, timeout, headers=None):
    """(status, headers, body, milliseconds), or an OSError."""
    # http(s) only: base_url() refused every other scheme.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Accept": "application/json", **(headers or {})}
    )
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    return status, headers, body, (time.monotonic() - started) * 1000


def _failing_checks(body):
    try:
        checks = json.loads(body).get("checks") or {}
    except (ValueError, AttributeError):
        return ""
    return ", ".join(
        f"{name}={value}" for name, value in checks.items() if value != "ok"
    )


def _health(name, url, *, timeout, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    status, _, body, ms = _get(url, timeout=timeout, headers=headers)
    if name == "full" and status == 403:
        # Only the metrics networks or the token see the full report: from
        # outside that is expected, not a failure of the service.
        return Probe(name, "403", ms, "refused (needs METRICS_TOKEN)", True)
    if status != 200:
        failing = _failing_checks(body)
        return Probe(name, str(status), ms, failing or "expected 200", False)
    detail = "ok"
    if name == "full":
        report = json.loads(body)
        detail = report.get("status", "?")
        failing = _failing_checks(body)
        if failing:
            detail += f": {failing}"
    return Probe(name, "200", ms, detail, True)


def _redirect(code, url, *, timeout):
    status, headers, _, ms = _get(url, timeout=timeout)
    if status in REDIRECTS:
        return Probe(f"/{code}", str(status), ms, f"→ {headers.get('Location')}", True)
    return Probe(
        f"/{code}", str(status), ms, "expected a redirect (301/302/307/308)", False
    )


def run_round(base, *, code=None, token=None, timeout=5.0):
    """One Probe per check, in order: live, ready, full, then the code."""
    checks = [
        ("live", partial(_health, "live", f"{base}/health/live", timeout=timeout)),
        ("ready", partial(_health, "ready", f"{base}/health/ready", timeout=timeout)),
        (
            "full",
            partial(
                _health, "full", f"{base}/health/full", timeout=timeout, token=token
            ),
        ),
    ]
    if code:
        url = f"{base}/{quote(code)}"
        checks.append((f"/{code}", partial(_redirect, code, url, timeout=timeout)))
    probes = []
    for name, check in checks:
        try:
            probes.append(check())
        except (OSError, ValueError) as exc:
            # No answer at all: refused, timed out, TLS, DNS, a broken body.
            reason = getattr(exc, "reason", None) or exc
            probes.append(Probe(name, "error", None, str(reason), False))
    return probes


def format_table(probes):
    rows = [("CHECK", "STATUS", "MS", "DETAIL")] + [
        (
            probe.check,
            probe.status,
            "-" if probe.ms is None else f"{probe.ms:.0f}",
            probe.detail,
        )
        for probe in probes
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[3]
        for row in rows
    )


def first_failure(probes):
    """One line about the first failing check, or None."""
    for probe in probes:
        if not probe.ok:
            return f"{probe.check}: {probe.status} {probe.detail}"
    return None
