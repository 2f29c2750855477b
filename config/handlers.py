"""Project-wide error pages: the JSON envelope for JSON clients, HTML otherwise."""

from django.http import HttpResponse, JsonResponse
from django.template import loader

from links.errors import error_envelope, error_response, wants_json


def bad_request(request, exception=None):
    return error_response(
        request, 400, "bad_request", "The request could not be understood."
    )


def permission_denied(request, exception=None):
    return error_response(
        request, 403, "permission_denied", "You are not allowed to do this."
    )


def page_not_found(request, exception=None):
    return error_response(
        request, 404, "not_found", "There is nothing at this address."
    )


def server_error(request):
    # Kept minimal: whatever broke may break a richer page too.
    message = "Something went wrong on our side; it has been logged."
    if wants_json(request):
        response = JsonResponse(
            error_envelope("server_error", message, request=request), status=500
        )
    else:
        try:
            body = loader.render_to_string("500.html")
        except Exception:  # noqa: BLE001 - the page of last resort must not fail
            body = f"<h1>Server error</h1><p>{message}</p>"
        response = HttpResponse(body, status=500)
    response["Cache-Control"] = "no-store"
    return response


class MethodNotAllowedPage:
    """Django answers a method a view does not take (GET on a POST-only
    address) with an empty 405, which browsers show as a broken page: give
    it the error page (or the JSON envelope), keeping the Allow header.
    Answers with a body of their own (the API's envelope) pass unchanged."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        allowed = response.get("Allow", "")
        return error_response(
            request,
            405,
            "method_not_allowed",
            f"This address does not answer {request.method} requests.",
            details={"allow": [m.strip() for m in allowed.split(",") if m.strip()]},
            template="405.html",
            context={"allow": allowed, "method": request.method},
            headers={"Allow": allowed},
        )
