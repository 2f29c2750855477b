"""The one JSON error shape of the project, and choosing JSON or HTML for errors.

{"error": {"code": "gone", "message": "...", "details": {...}, "request_id": "..."}}
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers


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
