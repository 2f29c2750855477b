"""CSRF_FAILURE_VIEW: what a refused form (an expired token, e.g. after
signing in again in another tab) answers instead of Django's bare 403.

Nothing the form sent is acted on. The page explains and links back; for the
create form on "My links" it offers the typed values again in a fresh form
(with a valid token), so one click creates the link after all. JSON clients
get the envelope with code "csrf_failed" (the API's views check session
calls themselves and answer DRF's permission_denied, as documented).
"""

from django.middleware.csrf import REASON_CSRF_TOKEN_MISSING
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from links.errors import json_error, wants_json
from links.forms import LinkCreateForm

MESSAGE = (
    "This form has expired: the page was opened before a sign-in or sign-out "
    "(perhaps in another tab), so it was not sent."
)
# Django's reasons for a token that is missing or does not match the cookie
# ("CSRF token from POST incorrect.", "... has incorrect length."): what a
# stale tab of this site sends. A bad Origin or Referer is another site.
_STALE_REASON_PREFIX = "CSRF token from "


def csrf_failure(request, reason=""):
    if wants_json(request):
        return json_error(request, 403, "csrf_failed", MESSAGE)
    context = {"back_url": _back_url(request)}
    create_path = reverse("links:list")
    if (
        request.path == create_path
        and request.user.is_authenticated
        and _stale_form_of_this_site(request, reason)
    ):
        typed = _typed_values(request)
        if typed:
            context["form"] = LinkCreateForm(initial=typed)
            context["form_action"] = create_path
    return render(request, "csrf_failure.html", context, status=403)


def _stale_form_of_this_site(request, reason):
    """Only a stale form of this site is given back. A form posted from
    another site (its Origin says so, even when CSRF_TRUSTED_ORIGINS lets
    the Origin pass) would otherwise come back pre-filled with the other
    site's URL and a fresh token, one click from being created."""
    stale_token = reason == REASON_CSRF_TOKEN_MISSING or reason.startswith(
        _STALE_REASON_PREFIX
    )
    origin = request.headers.get("Origin")
    # The origin Django's own check compares with first.
    own_origin = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    return stale_token and (origin is None or origin == own_origin)


def _typed_values(request):
    """What the browser sent, read by each field's own widget (the expiry is
    two inputs, expires_at_0 and expires_at_1), as unchecked initial values:
    shown again, not validated."""
    sent = LinkCreateForm(data=request.POST)
    typed = {}
    for bound in sent:
        value = bound.value()
        filled = any(value) if isinstance(value, (list, tuple)) else value
        if filled:
            typed[bound.name] = value
    return typed


def _back_url(request):
    """The page the form was on (the Referer, when on this site), else its
    own address, which shows the form afresh."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return referer
    return request.path
