"""GET /<code> answered in front of Django's request cycle: the fast path.

A redirect needs none of what Django's middleware stack does for a page
(sessions, CSRF, auth, messages, axes, template responses), yet running it
cost more than the redirect itself. So the WSGI application is this
dispatcher: for GET or HEAD of a path that routes to links.views.follow and
the plain case (a link that exists, is active, has no click limit, does not
loop, and the client is within its rate limit, on a host Django accepts) it
answers here, with the same lookups (links.lookup), the same click buffer
(links.clickbuffer), the same headers, metrics, request id and log line.
Everything else is handed to Django untouched: 404, 410, 429, a limited
link's exact count, HEAD/GET of other paths, a database that is failing.

Why a WSGI dispatcher rather than a URL-level decision inside Django: the
handler itself (request and response objects, signals, resolving, the
middleware chain) costs several times the redirect's own work, and a view
cannot skip middleware that ran before it. The headers are made by Django's
own middleware classes, once per process (_Headers), and a parity test
(tests/links/test_fastpath_parity.py) runs every case through both paths.
"""

import re
import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils import timezone

from config.redirect_metrics import RedirectMetrics
from links import clickbuffer, lookup
from links.codes import CODE_PATTERN, RESERVED_CODES
from links.metrics import REDIRECT_RESULTS
from links.views import RATE_LIMIT_WAIT, redirect_response, redirect_wait
from opsconsole import breaker
from opsconsole.middleware import (
    DATABASE_ERROR,
    database_failed,
    log_request,
    request_id_from,
)

_CODE = re.compile(rf"/({CODE_PATTERN})")


class _Headers:
    """The headers Django's middleware gives a redirect, built once per
    process by those middleware classes (per scheme: HSTS is https-only)."""

    def __init__(self):
        self._built = {}

    def for_request(self, request, secure):
        headers = self._built.get(secure)
        if headers is None:
            headers = self._built[secure] = self._build(request)
        return headers

    def _build(self, request):
        from csp.middleware import CSPMiddleware

        response = redirect_response("/")
        for middleware in (
            SecurityMiddleware,
            CSPMiddleware,
            XFrameOptionsMiddleware,
            CommonMiddleware,
        ):
            response = middleware(_unused).process_response(request, response)
        return [
            (name, value)
            for name, value in response.items()
            if name not in ("Location",)
        ]


class RedirectFastPath:
    """The WSGI application: the fast path for plain redirects, Django for
    everything else."""

    def __init__(self, django_app):
        self.django = django_app
        self.headers = _Headers()
        self.metrics = RedirectMetrics()
        self.status = settings.LINKS_REDIRECT_STATUS

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            match = _CODE.fullmatch(environ.get("PATH_INFO", ""))
            if match and match[1].lower() not in RESERVED_CODES:
                answered = self._redirect(environ, start_response, match[1])
                if answered is not None:
                    return answered
        return self.django(environ, start_response)

    def _redirect(self, environ, start_response, code):
        started = time.perf_counter()
        if not breaker.closed() or _needs_middleware():
            return None
        request = WSGIRequest(environ)
        secure = request.is_secure()
        if settings.SECURE_SSL_REDIRECT and not secure:
            return None  # SecurityMiddleware's 301 to https
        try:
            host = request.get_host()
        except DisallowedHost:
            return None  # Django's 400, without a look at the database
        now = timezone.now()
        try:
            found = lookup.find(code)
        except DatabaseError as exc:
            # As Django's middleware would: the breaker opens for a server
            # that cannot be reached, and Django's path then answers 503 at
            # once (logging this error, with its request id) instead of
            # waiting for the pool. Otherwise Django's path asks again.
            database_failed(exc)
            environ[DATABASE_ERROR] = exc
            return None
        if found is None or found.max_clicks is not None or not found.followable:
            return None
        if not found.redirects_at(now):
            return None
        if lookup.loops_back(found, host):
            return None
        wait = redirect_wait(request)
        if wait:
            environ[RATE_LIMIT_WAIT] = wait
            return None
        # Past this point the request is answered here, whatever happens.
        if request.method == "GET":
            clickbuffer.add(found, now)
        REDIRECT_RESULTS["redirect"].inc()
        request.request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [
            ("Location", found.location),
            *self.headers.for_request(request, secure),
            ("X-Request-ID", request.request_id),
        ]
        start_response(_STATUS_LINES[self.status], headers)
        transport = "https" if secure else "http"
        self.metrics.count(
            request,
            request.method,
            transport,
            str(self.status),
            time.perf_counter() - started,
        )
        log_request(request, self.status, started)
        return [b""]


def _unused(request):
    raise AssertionError("only process_response is called")


_STATUS_LINES = {
    301: "301 Moved Permanently",
    302: "302 Found",
    307: "307 Temporary Redirect",
    308: "308 Permanent Redirect",
}


def _needs_middleware():
    # CommonMiddleware refuses user agents or adds www.: left to it.
    return bool(settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW)
