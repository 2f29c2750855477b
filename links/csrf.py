"""CSRF_FAILURE_VIEW: what a refused form (an expired token, e.g. after
signing in again in another tab) answers instead of Django's bare 403.

Nothing the form sent is acted on. The page explains and links back; for the
create form on "My links" it offers the typed values again in a fresh form
(with a valid token), so one click creates the link after all. JSON clients
get the envelope with code "csrf_failed" (the API's views check session
calls themselves and answer DRF's permission_denied, as documented).
"""

from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from links.errors import json_error, wants_json
from links.forms import LinkCreateForm

MESSAGE = (
    "This form has expired: the page was opened before a sign-in or sign-out "
    "(perhaps in another tab), so it was not sent."
)


def csrf_failure(request, reason=""):
    if wants_json(request):
        return json_error(request, 403, "csrf_failed", MESSAGE)
    context = {"back_url": _back_url(request)}
    create_path = reverse("links:list")
    if request.path == create_path and request.user.is_authenticated:
        # Unbound, with the typed values as initial ones: shown, not checked.
        typed = {
            name: request.POST[name]
            for name in LinkCreateForm.base_fields
            if request.POST.get(name)
        }
        if typed:
            context["form"] = LinkCreateForm(initial=typed)
            context["form_action"] = create_path
    return render(request, "csrf_failure.html", context, status=403)


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
