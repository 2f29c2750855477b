"""Request IDs, the one log line per request, probes and database outages."""

import logging
import random
import re
import time

from django.db import DatabaseError
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import empty

from links.errors import database_unavailable, unavailable_response
from opsconsole import breaker, health, metrics
from opsconsole.engines import engine_for
from opsconsole.logging import monotonic_ms, request_id_var

logger = logging.getLogger("tinylink.request")
# What a proxy may hand us: short, printable, no spaces or quotes, so it is
# safe to echo into headers and logs.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


class RequestIdMiddleware:
    """Accept a well-formed X-Request-ID from the proxy or make one; echo it on
    the response, expose it as request.request_id (error envelopes carry it)
    and in every log line of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        request_id = request_id_from(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            # request.user is lazy: only touch it when the view already did,
            # so an anonymous redirect costs no session lookup.
            user_id = None
            if user is not None and getattr(user, "_wrapped", empty) is not empty:
                user_id = getattr(user, "pk", None)
            log_request(request, response.status_code, start, user_id)
            return response
        finally:
            request_id_var.reset(token)


def request_id_from(incoming):
    """The proxy's X-Request-ID when well formed, else a new one: 128 random
    bits as 32 hex digits, like uuid4().hex. From `random`, not the OS: an
    id names a request, it guards nothing, and uuid4's system call per
    request made each thread give up the GIL on the redirect's hot path
    (`random` is reseeded in every forked worker)."""
    if _VALID_REQUEST_ID.match(incoming):
        return incoming
    return f"{random.getrandbits(128):032x}"


def log_request(request, status, start, user_id=None):
    """The one JSON line per request (also written by config.fastpath)."""
    logger.info(
        "request",
        extra={
            "request_id": request.request_id,
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": monotonic_ms(start),
            "user_id": user_id,
        },
    )


class HealthProbeMiddleware:
    """Answer the health probes and /metrics before host validation and the
    https redirect.

    Orchestrators probe by pod IP over plain http: with ALLOWED_HOSTS=sho.rt
    and SECURE_SSL_REDIRECT on, the probes would otherwise get 400 or 301 and
    a healthy process would be restarted. Prometheus scrapes every pod the
    same way (counters are per instance); /metrics keeps its own guard
    (METRICS_ALLOWED_NETWORKS or the metrics token).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.probes = {
            "/health": health.health,
            "/health/live": health.live,
            "/health/ready": health.ready,
            "/health/full": health.full,
            "/metrics": metrics.metrics_view,
        }

    def __call__(self, request):
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A view that cannot reach the database answers 503 with Retry-After,
    and while the server is known to be down it answers so at once.

    A lost database server, a full connection pool or a SQLite writer that
    waited out its busy timeout are passing conditions, not bugs: a 500
    tells clients and load balancers that retrying is pointless, while 503
    + Retry-After tells them to come back. After a failure to reach the
    server, opsconsole.breaker spares the next requests the pool's timeout.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "answers_without_database", False):
            return None
        state = breaker.admit()
        if state == breaker.CLOSED:
            return None
        if state == breaker.TRIAL and health.ping_database() == "ok":
            return None
        # The failure that opened the breaker in config.fastpath, logged here
        # once, with this request's id.
        failure = request.META.get(DATABASE_ERROR)
        if failure is not None:
            return database_unavailable(request, failure) or unavailable_response(
                request
            )
        return unavailable_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DatabaseError):
            return None
        if database_failed(exception) == "damaged":
            # 503 rather than 500: the data is there to be restored, and
            # /health/full says how.
            return unavailable_response(request)
        return database_unavailable(request, exception)


# Where config.fastpath leaves the DatabaseError it met for this middleware
# (a WSGI key no client header can set).
DATABASE_ERROR = "tinylink.database_error"


def database_failed(exception):
    """Note a DatabaseError: a damaged SQLite file for /health/full, or a
    failure that may open the breaker (and drop the pooled connections).
    Also called by config.fastpath, which then hands the request to Django:
    the next caller is turned away at once instead of waiting for the pool."""
    engine = engine_for()
    if engine.is_corrupt(exception):
        health.database_damaged(exception)
        return "damaged"
    breaker.record_failure(exception, engine)
    return "failed"
