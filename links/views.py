from django.conf import settings
from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from links import click_hold, clickbuffer, lookup
from links.clicks import record_click
from links.clientip import client_ip
from links.errors import RETRY_AFTER_UNAVAILABLE, error_response
from links.metrics import REDIRECT_RESULTS
from links.models import Link, LinkState
from links.ratelimit import hit, parse_rate
from links.targets import points_at_this_service

_GONE_MESSAGES = {
    LinkState.EXPIRED: "This short link has expired.",
    LinkState.EXHAUSTED: "This short link has reached its click limit.",
    # Neutral: its owner or an administrator may have done it, and no record
    # says which.
    LinkState.INACTIVE: "This short link has been deactivated.",
}


class _Redirect(HttpResponseRedirect):
    allowed_schemes = ["http", "https"]

    def __init__(self, url, status):
        super().__init__(url)
        self.status_code = status


def _not_found(request, code):
    REDIRECT_RESULTS["not_found"].inc()
    return error_response(
        request,
        404,
        "not_found",
        "There is no short link with this code.",
        details={"short_code": code},
        template="links/not_found.html",
        context={"short_code": code},
    )


def _gone(request, link, state):
    REDIRECT_RESULTS["gone"].inc()
    details = {"short_code": link.short_code, "state": state.value}
    if state == LinkState.EXPIRED:
        details["expired_at"] = link.expires_at.isoformat()
    return error_response(
        request,
        410,
        "gone",
        _GONE_MESSAGES[state],
        details=details,
        template="links/gone.html",
        context={"link": link, "state": state.value},
    )


def _loops_back(request, link):
    """410 for a link saved before its target was refused: following it
    would send the visitor back here (a loop) or to a loopback address."""
    REDIRECT_RESULTS["gone"].inc()
    return error_response(
        request,
        410,
        "gone",
        "This short link points back at this TinyLink (or at a loopback "
        "address), so it is not followed.",
        details={"short_code": link.short_code, "reason": "redirect_loop"},
        template="links/gone.html",
        context={"link": link, "state": "redirect_loop"},
    )


def _rate_limited(request, wait):
    REDIRECT_RESULTS["rate_limited"].inc()
    return error_response(
        request,
        429,
        "throttled",
        "Too many requests from your address; wait a moment and try again.",
        details={"retry_after": wait},
        template="links/rate_limited.html",
        context={"retry_after": wait},
        headers={"Retry-After": str(wait)},
    )


def _held_back(request, link):
    """503 for a link with a click limit while clicks are held: only the
    database can count it exactly, and the database is being replaced."""
    return error_response(
        request,
        503,
        "unavailable",
        "This short link is briefly unavailable while TinyLink restores its "
        "data; please try again in a moment.",
        details={"short_code": link.short_code},
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


# Set by config.fastpath when it already counted this request against the
# redirect rate limit and hands over the 429 to this view. Not a header: WSGI
# gives client headers HTTP_ names, so no client can set this key.
RATE_LIMIT_WAIT = "tinylink.rate_limit_wait"


def redirect_wait(request):
    """Seconds to wait when the client is over RATE_LIMIT_REDIRECTS, else 0."""
    rate = parse_rate(settings.RATE_LIMIT_REDIRECTS)
    if rate is None:
        return 0
    return hit("redirect", client_ip(request), rate)


def redirect_response(location):
    """The redirect to a link's `location` (links.lookup.CachedLink)."""
    response = _Redirect(location, settings.LINKS_REDIRECT_STATUS)
    # Counts must be exact, so no shared cache may answer for us.
    response["Cache-Control"] = "private, no-store"
    return response


def redirect_to(found):
    # Made before it is counted: a location Django refuses (DisallowedRedirect,
    # a 400) is no redirect and no click.
    response = redirect_response(found.location)
    REDIRECT_RESULTS["redirect"].inc()
    return response


@require_safe
def follow(request, code):
    """GET /<code>. config.fastpath answers most redirects before Django
    does; this view answers the rest (and all of them under runserver and
    the test client) with the same lookups and the same click buffer."""
    wait = request.META.get(RATE_LIMIT_WAIT)
    if wait is None:
        wait = redirect_wait(request)
    if wait:
        return _rate_limited(request, wait)
    now = timezone.now()
    found = lookup.find(code)
    if found is None:
        return _not_found(request, code)
    if found.max_clicks is not None or not found.redirects_at(now):
        return _follow_exactly(request, code, now)
    if lookup.loops_back(found, request.get_host()):
        return _loops_back(request, found)
    response = redirect_to(found)
    # HEAD answers like GET but counts nothing: link checkers and previews
    # must not inflate click counts.
    if request.method == "GET":
        clickbuffer.add(found, now)
    return response


@require_safe
def follow_with_slash(request, code):
    """GET /<code>/: a short link with a slash added (by a chat app, a
    mail client, a hand) is still that link. A permanent redirect to /<code>,
    which config.fastpath answers and counts; this hop counts nothing."""
    location = reverse("links:redirect", kwargs={"code": code})
    if request.META.get("QUERY_STRING"):
        location += "?" + request.META["QUERY_STRING"]
    return HttpResponsePermanentRedirect(location)


def _follow_exactly(request, code, now):
    """A link with a click limit, or one not to be followed: read from the
    database, and a click counted there at once, so the limit is exact."""
    link = (
        Link.objects.filter(short_code=code)
        .only(
            "id",
            "short_code",
            "target_url",
            "is_active",
            "expires_at",
            "max_clicks",
            "click_count",
        )
        .first()
    )
    if link is None:
        return _not_found(request, code)
    state = link.state_at(now)
    if state != LinkState.ACTIVE:
        return _gone(request, link, state)
    if points_at_this_service(link.target_url, request.get_host()):
        return _loops_back(request, link)
    response = redirect_response(lookup.CachedLink.of(link).location)
    if request.method == "GET":
        if click_hold.holding():
            # A restore is replacing the database, the only place where this
            # link's clicks can be counted exactly.
            return _held_back(request, link)
        if not record_click(link.pk, now=now):
            link.refresh_from_db()
            return _gone(request, link, link.state_at(now))
    REDIRECT_RESULTS["redirect"].inc()
    return response
