"""The fast path (config/fastpath.py) answers exactly as Django would.

Every case is sent twice, as the same WSGI environ: once to the WSGI
application gunicorn serves (the fast path in front of Django) and once to
Django's handler alone. Status, headers, body, clicks counted, Prometheus
counters and the request log line must be the same; and the plain cases
must really have been answered by the fast path (Django not called), the
others really handed to Django.
"""

import logging
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.utils import timezone
from prometheus_client import REGISTRY

from config.fastpath import RedirectFastPath
from links.models import Link, LinkDailyClicks

HOST = "testserver"
ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As Django's test client does: the handler's signals would close the
    # connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _environ(method, path, headers):
    request = RequestFactory().generic(method, path, **headers)
    return request.environ


def _metrics():
    values = {}
    for metric in REGISTRY.collect():
        if not metric.name.startswith(("django_http_", "tinylink_redirects")):
            continue
        for sample in metric.samples:
            # Latencies differ by nature; their counts may not.
            if sample.name.endswith(("_sum", "_bucket", "_created")):
                continue
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _delta(before, after):
    return {
        key: after[key] - before.get(key, 0)
        for key in after
        if after[key] != before.get(key, 0)
    }


def _clicks():
    return (
        sum(Link.objects.values_list("click_count", flat=True)),
        sum(LinkDailyClicks.objects.values_list("clicks", flat=True)),
    )


def _send(app, method, path, headers, caplog):
    environ = _environ(method, path, headers)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = status
        started["headers"] = response_headers

    cache.clear()  # rate limit windows: each path starts from the same count
    caplog.clear()
    before_metrics, before_clicks = _metrics(), _clicks()
    result = app(environ, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    if isinstance(app, RedirectFastPath):
        app.metrics.publish()  # its thread would, within half a second
    headers_out = dict(started["headers"])
    request_id = headers_out.pop("X-Request-ID")
    if "Expires" in headers_out:  # "now" of error pages: the clock's second
        headers_out["Expires"] = "<now>"
    logged = [
        (r.method, r.path, r.status, r.user_id, r.request_id)
        for r in caplog.records
        if r.name == "tinylink.request"
    ]
    return {
        "status": started["status"],
        "headers": headers_out,
        # The id is made per request: compared by form, and in the body
        # (error envelopes carry it) replaced by a placeholder.
        "request_id": request_id if not ID.fullmatch(request_id) else "<new>",
        "body": body.replace(request_id.encode(), b"<id>"),
        "clicks": tuple(a - b for a, b in zip(_clicks(), before_clicks, strict=True)),
        "metrics": _delta(before_metrics, _metrics()),
        "log": [(*entry[:4], entry[4] == request_id) for entry in logged],
    }


def _both(method, path, caplog, **headers):
    """(fast path's answer, Django's answer, did the fast path hand over)."""
    django = WSGIHandler()
    handed_over = []

    def counting_django(environ, start_response):
        handed_over.append(environ["PATH_INFO"])
        return django(environ, start_response)

    with caplog.at_level(logging.INFO, logger="tinylink.request"):
        fast = _send(RedirectFastPath(counting_django), method, path, headers, caplog)
        plain = _send(django, method, path, headers, caplog)
    return fast, plain, bool(handed_over)


def make(code="go", **fields):
    fields.setdefault("target_url", "https://example.com/landing?q=1")
    return Link.objects.create(short_code=code, **fields)


@pytest.fixture
def _everything_allowed(settings):
    settings.ALLOWED_HOSTS = [HOST, "sho.rt"]


# Cases the fast path answers itself.
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", [302, 301, 307, 308])
def test_plain_redirects_are_answered_by_the_fast_path_as_django_would(
    db, settings, caplog, method, status
):
    settings.LINKS_REDIRECT_STATUS = status
    make()
    fast, plain, handed_over = _both(method, "/go", caplog)
    assert not handed_over
    assert fast == plain
    assert fast["status"].startswith(str(status))
    assert fast["headers"]["Location"] == "https://example.com/landing?q=1"
    assert fast["clicks"] == ((1, 1) if method == "GET" else (0, 0))
    assert fast["log"] == [(method, "/go", status, None, True)]


def test_https_behind_a_proxy_gets_hsts_on_both_paths(db, settings, caplog):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    make()
    fast, plain, handed_over = _both(
        "GET", "/go", caplog, HTTP_X_FORWARDED_PROTO="https"
    )
    assert not handed_over
    assert fast == plain
    assert fast["headers"]["Strict-Transport-Security"] == "max-age=3600"
    # And plain http on the same process gets none (headers kept per scheme).
    fast, plain, _ = _both("GET", "/go", caplog)
    assert fast == plain
    assert "Strict-Transport-Security" not in fast["headers"]


@pytest.mark.parametrize(
    ("incoming", "echoed"), [("proxy-id-12345678", True), ("bad id", False)]
)
def test_request_ids_from_the_proxy_are_kept_or_replaced_alike(
    db, caplog, incoming, echoed
):
    make()
    fast, plain, handed_over = _both("GET", "/go", caplog, HTTP_X_REQUEST_ID=incoming)
    assert not handed_over
    assert fast == plain
    assert fast["request_id"] == (incoming if echoed else "<new>")


def test_international_targets_are_quoted_alike(db, caplog):
    make(target_url="https://bücher.example/straße?q=ä")
    fast, plain, handed_over = _both("GET", "/go", caplog)
    assert not handed_over
    assert fast == plain
    assert fast["headers"]["Location"].isascii()


# Cases handed to Django, answered exactly as before.
@pytest.mark.parametrize(
    ("path", "setup", "accept", "status"),
    [
        ("/nope", {}, "text/html", 404),
        ("/nope", {}, "application/json", 404),
        ("/go", {"is_active": False}, "application/json", 410),
        ("/go", {"expires_in": -1}, "text/html", 410),
        ("/go", {"max_clicks": 5}, "text/html", 302),
        ("/go", {"max_clicks": 1, "click_count": 1}, "application/json", 410),
        ("/go", {"target_url": f"http://{HOST}/elsewhere"}, "application/json", 410),
        ("/admin", {}, "text/html", 404),
    ],
)
def test_everything_else_is_handed_to_django(
    db, settings, caplog, path, setup, accept, status
):
    settings.ALLOWED_HOSTS = [HOST]
    setup = dict(setup)
    if "expires_in" in setup:
        setup["expires_at"] = timezone.now() + timedelta(days=setup.pop("expires_in"))
    make(**setup)
    fast, plain, handed_over = _both("GET", path, caplog, HTTP_ACCEPT=accept)
    assert handed_over
    assert fast == plain
    assert fast["status"].startswith(str(status))


@pytest.mark.parametrize("path", ["/metrics", "/health", "/Admin", "/api"])
def test_reserved_codes_never_reach_the_fast_path(db, caplog, path):
    # Even a link stored under such a code (before it was reserved) must not
    # shadow the route.
    Link.objects.bulk_create([Link(short_code=path[1:], target_url="https://x.org/")])
    _, _, handed_over = _both("GET", path, caplog)
    assert handed_over


def test_a_link_with_a_click_limit_is_counted_exactly_on_its_path(db, caplog):
    make(max_clicks=2)
    fast, plain, handed_over = _both("GET", "/go", caplog)
    assert handed_over
    assert fast == plain
    # The limit holds across both: the third click is refused.
    fast, plain, _ = _both("GET", "/go", caplog, HTTP_ACCEPT="application/json")
    assert fast["status"].startswith("410")
    assert plain["status"].startswith("410")


def test_rate_limited_clients_get_the_same_429_counted_once(db, settings, caplog):
    settings.RATE_LIMIT_REDIRECTS = "1/minute"
    make()
    environ_headers = {"HTTP_ACCEPT": "application/json"}
    django = WSGIHandler()
    fast = RedirectFastPath(django)
    with caplog.at_level(logging.INFO, logger="tinylink.request"):
        cache.clear()
        first = _send_keep_cache(fast, environ_headers)
        second = _send_keep_cache(fast, environ_headers)
        fast_hits = _hits()
        cache.clear()
        first_django = _send_keep_cache(django, environ_headers)
        second_django = _send_keep_cache(django, environ_headers)
        django_hits = _hits()
    waits = second.pop("retry_after"), second_django.pop("retry_after")
    assert abs(waits[0] - waits[1]) <= 1
    assert (first, second) == (first_django, second_django)
    assert first["status"].startswith("302")
    assert second["status"].startswith("429")
    # The fast path counted the 429's hit and handed it over without Django
    # counting it again.
    assert fast_hits == django_hits == 2


def _hits():
    # The local-memory cache's keys: ":1:rl:redirect:<address>:<window>".
    return sum(
        cache.get(key.split(":", 2)[2])
        for key in list(cache._cache)
        if ":rl:redirect:" in key
    )


def _send_keep_cache(app, headers):
    environ = _environ("GET", "/go", headers)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    body = b"".join(app(environ, start_response))
    if isinstance(app, RedirectFastPath):
        # Now, not by its thread half a second later: in a later test's
        # window those counts made that test's metrics differ (seen in CI).
        app.metrics.publish()
    request_id = started["headers"].pop("X-Request-ID")
    # Clock-made: the page's Expires, and the seconds left in the window
    # (both paths may straddle a second); compared apart.
    if "Expires" in started["headers"]:
        started["headers"]["Expires"] = "<now>"
    wait = started["headers"].pop("Retry-After", None)
    if wait is not None:
        started["headers"]["Retry-After"] = "<seconds>"
        started["retry_after"] = int(wait)
    return {
        "status": started["status"],
        "headers": started["headers"],
        # The body repeats the seconds to wait: the same placeholder.
        "body": re.sub(
            rb'"retry_after": \d+',
            b'"retry_after": 0',
            body.replace(request_id.encode(), b"<id>"),
        ),
        "retry_after": started.get("retry_after"),
    }


def test_a_host_django_refuses_is_refused_alike(db, settings, caplog):
    settings.ALLOWED_HOSTS = ["sho.rt"]
    make()
    fast, plain, handed_over = _both("GET", "/go", caplog)
    assert handed_over
    assert fast == plain
    assert fast["status"].startswith("400")


def test_the_https_redirect_stays_with_django(db, settings, caplog):
    settings.SECURE_SSL_REDIRECT = True
    make()
    fast, plain, handed_over = _both("GET", "/go", caplog)
    assert handed_over
    assert fast == plain
    assert fast["status"].startswith("301")


def test_post_is_left_to_django(db, caplog):
    make()
    fast, plain, handed_over = _both("POST", "/go", caplog)
    assert handed_over
    assert fast == plain
    # CSRF refuses it before the view's 405: what matters is that it is
    # Django's answer.
    assert fast["status"].startswith("403")


@pytest.mark.parametrize(
    "target",
    [
        # Valid (2,014 characters) but 24,014 once quoted: over Django's
        # MAX_URL_REDIRECT_LENGTH.
        "https://e.com/" + "\N{GRINNING FACE}" * 2000,
        # Stored past validation (old data, raw SQL).
        "javascript:alert(1)",
    ],
)
def test_a_location_django_refuses_is_refused_alike_and_not_counted(db, caplog, target):
    Link.objects.bulk_create([Link(short_code="go", target_url=target)])
    fast, plain, handed_over = _both("GET", "/go", caplog)
    assert handed_over
    assert fast == plain
    assert fast["status"].startswith("400")
    assert fast["clicks"] == (0, 0)
