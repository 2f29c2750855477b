"""The one JSON error shape of the project, and choosing JSON or HTML for errors.

{"error": {"code": "gone", "message": "...", "details": {...}, "request_id": "..."}}
"""

import logging
import threading
import time

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.cache import add_never_cache_headers

RETRY_AFTER_UNAVAILABLE = 5
UNAVAILABLE_MESSAGE = "TinyLink is briefly unavailable; please try again in a moment."
TRACEBACK_EVERY_SECONDS = 60
_tracebacks = {"logged_at": None}
_tracebacks_lock = threading.Lock()


def wants_json(request):
    """True when the client prefers JSON to HTML (API clients, fetch())."""
    if request.path.startswith("/api/"):
        return True
    preferred = request.get_preferred_type(["text/html", "application/json"])
    return preferred == "application/json"


def error_envelope(code, message, details=None, request=None):
    body = {"code": code, "message": message, "details": details or {}}
    request_id = getattr(request, "request_id", None) if request is not None else None
    if request_id:
        body["request_id"] = request_id
    return {"error": body}


def json_error(request, status, code, message, details=None, headers=None):
    response = JsonResponse(
        error_envelope(code, message, details, request), status=status, headers=headers
    )
    add_never_cache_headers(response)
    return response


def error_response(
    request,
    status,
    code,
    message,
    *,
    details=None,
    template=None,
    context=None,
    headers=None,
):
    """JSON envelope for JSON clients, a small HTML page for browsers."""
    if wants_json(request):
        return json_error(request, status, code, message, details, headers)
    page = dict(context or {}, status=status, code=code, message=message)
    response = render(request, template or "error.html", page, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    add_never_cache_headers(response)
    return response


def database_unavailable(request, exc):
    """503 + Retry-After when exc says the database cannot serve, else None.

    A lost server, an exhausted pool or a SQLite writer that waited out its
    busy timeout pass; a 500 would tell clients and load balancers that
    retrying is pointless. One log line per failure; the traceback at most
    once a minute per process (an outage logged a traceback and Django's own
    ERROR for every request: 510 KB for 40 requests).
    """
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    log_database_error("database unavailable", exc)
    return unavailable_response(request)


def log_database_error(what, exc):
    detail = str(exc).strip().splitlines()
    logging.getLogger("tinylink.unavailable").error(
        "%s: %s%s",
        what,
        exc.__class__.__name__,
        f": {detail[0]}" if detail else "",
        exc_info=(type(exc), exc, exc.__traceback__) if _traceback_due() else None,
    )


def _traceback_due():
    now = time.monotonic()
    with _tracebacks_lock:
        logged_at = _tracebacks["logged_at"]
        if logged_at is not None and now - logged_at < TRACEBACK_EVERY_SECONDS:
            return False
        _tracebacks["logged_at"] = now
        return True


def unavailable_response(request, message=UNAVAILABLE_MESSAGE):
    """The 503 of a database that cannot serve, already logged."""
    headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
    if wants_json(request):
        response = json_error(request, 503, "unavailable", message, headers=headers)
    else:
        # Rendered without the request: the base layout asks request.user,
        # one more trip to the database that is not there.
        response = HttpResponse(
            loader.render_to_string("503.html", {"message": message}),
            status=503,
            headers=headers,
        )
        add_never_cache_headers(response)
    # Logged once above (or on purpose not at all); django.request would add
    # an ERROR per request.
    response._has_been_logged = True
    return response


_API_CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


class Conflict(Exception):
    """Raised by API views for 409: the resource exists already."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details or {}


def _message_and_details(exc, status):
    from rest_framework import exceptions

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return "The request has invalid fields.", detail
        return "The request is invalid.", {"non_field_errors": detail}
    if isinstance(exc, exceptions.ParseError):
        return f"The request body could not be parsed: {exc.detail}", {}
    if isinstance(exc, exceptions.Throttled):
        return "Too many requests; slow down.", {"retry_after": exc.wait}
    if isinstance(exc, exceptions.APIException):
        return str(exc.detail), {}
    return "", {}


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every API error in the one envelope."""
    from django.core.exceptions import PermissionDenied, RequestDataTooBig
    from django.http import Http404
    from rest_framework import exceptions

    request = context.get("request")
    headers = {}
    if isinstance(exc, Conflict):
        return json_error(request, 409, "conflict", str(exc), exc.details)
    if isinstance(exc, RequestDataTooBig):
        return json_error(
            request, 413, "payload_too_large", "The request body is too large."
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError):
        # Raised on to the middleware, which answers every view's database
        # errors alike (503 for an outage, with the breaker; else 500).
        return None
    if not isinstance(exc, exceptions.APIException):
        logging.getLogger("links.api").error(
            "Unhandled API error", exc_info=(type(exc), exc, exc.__traceback__)
        )
        return json_error(
            request,
            500,
            "server_error",
            "Something went wrong on our side; it has been logged.",
        )
    status = exc.status_code
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        exc.wait = int(exc.wait + 0.999)
        headers["Retry-After"] = str(exc.wait)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    message, details = _message_and_details(exc, status)
    code = _API_CODES.get(status, "error")
    return json_error(request, status, code, message, details, headers=headers)
