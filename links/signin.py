"""Sign-in throttling around django-axes: the answer a locked-out client gets,
and one log line for every failed sign-in (axes' own chatter is turned down).

The lock itself is axes' (settings: AXES_*): failures are counted in the
database, so every gunicorn worker sees the same count, per user name and per
client address (links.clientip), on /accounts/login/ and /admin/login/ alike.
API tokens never go through a sign-in and are not counted.
"""

import logging
import math

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit

from links.clientip import client_ip
from links.errors import error_response

log = logging.getLogger("tinylink.signin")

LOCKED_OUT_MESSAGE = "Too many failed sign-ins. Please wait before trying again."


def locked_until(request, credentials):
    """When the lock on this request lifts, unless someone fails again first.

    A lock holds while the failures inside the cool-off window reach the
    limit; axes keeps one row per (user, address, user agent) stamped with its
    latest failure. For each lock that applies (user, address), walking back
    from the newest row, the row whose failures reach the limit is the one
    that has to leave the window.
    """
    cool_off = get_cool_off(request)
    limit = get_failure_limit(request, credentials)
    handler = AxesProxyHandler.get_implementation()
    ends = []
    for attempts in handler.get_user_attempts(request, credentials):
        failures = 0
        rows = attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        )
        for stamp, count in rows:
            failures += count
            if failures >= limit:
                ends.append(stamp + cool_off)
                break
    # No row found (cleared a moment ago): the longest wait there can be.
    return max(ends, default=request.axes_attempt_time + cool_off)


def lockout_response(request, original_response, credentials):
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After; a TinyLink page saying when
    to try again, or the JSON envelope for a JSON client. It names neither
    the account nor the address, so it tells nobody which accounts exist."""
    until = locked_until(request, credentials)
    wait = max(0, math.ceil((until - request.axes_attempt_time).total_seconds()))
    return error_response(
        request,
        429,
        "locked_out",
        LOCKED_OUT_MESSAGE,
        details={"retry_after": wait},
        template="registration/locked_out.html",
        context={"locked_until": until, "minutes": math.ceil(wait / 60)},
        headers={"Retry-After": str(wait)},
    )


def log_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Receiver of user_login_failed, connected after axes' own: by then axes
    has said whether this failure locked the client out. Django has already
    replaced the password in `credentials`; only the user name is read."""
    if request is None:  # authenticate() from a shell: no client to name
        return
    locked = " (locked out)" if getattr(request, "axes_locked_out", False) else ""
    log.warning(
        "sign-in failed for %r from %s%s",
        get_client_username(request, credentials),
        client_ip(request),
        locked,
        extra={"path": request.path, "method": request.method},
    )
