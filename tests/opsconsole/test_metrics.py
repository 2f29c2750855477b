"""/metrics: who may read it, and that its counters count exactly."""

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from links.models import Link
from tests.servers import GunicornServer, http_request

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
OUTSIDER = "203.0.113.5"
TOKEN = "metrics-token-0123456789abcdef"
RESULTS = ("redirect", "not_found", "gone", "rate_limited")
LINK_COUNTERS = (
    "tinylink_links_created_total",
    "tinylink_links_updated_total",
    "tinylink_links_deleted_total",
)


def parse(text):
    """{(sample name, frozenset of labels): value} of a Prometheus text page."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.content.decode())


def redirect_counts(samples):
    return {
        result: value(samples, "tinylink_redirects_total", result=result)
        for result in RESULTS
    }


def delta(before, after):
    return {key: after[key] - before[key] for key in before}


@pytest.fixture
def redirect_deltas(client):
    """Call it after the requests: how each redirect result moved since."""
    before = redirect_counts(scrape(client))
    return lambda: delta(before, redirect_counts(scrape(client)))


@pytest.fixture
def link(db):
    return Link.objects.create(short_code="go", target_url="https://example.com/")


# --- Who may read it ------------------------------------------------------------------


def test_metrics_are_served_to_localhost_as_prometheus_text(client, db):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    assert ("tinylink_redirects_total", frozenset({("result", "redirect")})) in parse(
        response.content.decode()
    )


def test_metrics_are_refused_to_other_addresses_with_a_json_envelope(client, db):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, **JSON)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["request_id"] == response["X-Request-ID"]
    assert "tinylink_" not in response.content.decode()


def test_metrics_are_refused_to_other_addresses_with_an_html_page(client, db):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, **HTML)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "tinylink_" not in response.content.decode()


def test_a_forwarded_for_header_does_not_make_an_outsider_local(client, db):
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR="127.0.0.1", **JSON
    )
    assert response.status_code == 403


def test_allowed_networks_follow_the_setting(client, db, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDER).status_code == 200
    assert client.get("/metrics", **JSON).status_code == 403


def test_the_metrics_token_opens_metrics_to_any_address(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200
    assert "tinylink_redirects_total" in response.content.decode()


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Token {TOKEN}",
        TOKEN,
        "Bearer ",
    ],
)
def test_a_wrong_metrics_token_is_refused(client, db, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=authorization, **JSON
    )
    assert response.status_code == 403


def test_an_empty_bearer_is_refused_when_no_token_is_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer ", **JSON
    )
    assert response.status_code == 403


# --- What it counts -------------------------------------------------------------------


def test_a_redirect_counts_once_as_redirect(client, link, redirect_deltas):
    assert client.get("/go").status_code == 302
    assert redirect_deltas() == {
        "redirect": 1,
        "not_found": 0,
        "gone": 0,
        "rate_limited": 0,
    }


def test_an_unknown_code_counts_once_as_not_found(client, db, redirect_deltas):
    assert client.get("/nope", **JSON).status_code == 404
    assert redirect_deltas() == {
        "redirect": 0,
        "not_found": 1,
        "gone": 0,
        "rate_limited": 0,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_at": timezone.now() - timedelta(days=1)},
        {"is_active": False},
        {"max_clicks": 1, "click_count": 1},
    ],
    ids=["expired", "inactive", "exhausted"],
)
def test_a_link_that_is_gone_counts_once_as_gone(client, db, redirect_deltas, fields):
    Link.objects.create(short_code="old", target_url="https://example.com/", **fields)
    assert client.get("/old", **JSON).status_code == 410
    assert redirect_deltas() == {
        "redirect": 0,
        "not_found": 0,
        "gone": 1,
        "rate_limited": 0,
    }


def test_a_rate_limited_request_counts_once_as_rate_limited(
    client, link, settings, redirect_deltas, clock
):
    # The limiter's clock is pinned: the two requests share one window.
    settings.RATE_LIMIT_REDIRECTS = "1/day"
    cache.clear()
    assert client.get("/go").status_code == 302
    assert client.get("/go", **JSON).status_code == 429
    assert redirect_deltas() == {
        "redirect": 1,
        "not_found": 0,
        "gone": 0,
        "rate_limited": 1,
    }


def test_creating_updating_and_deleting_a_link_each_count_once(client, db):
    def counts():
        samples = scrape(client)
        return {name: value(samples, name) for name in LINK_COUNTERS}

    start = counts()
    link = Link.objects.create_link(target_url="https://example.com/")
    created = counts()
    link.target_url = "https://example.org/"
    link.save()
    updated = counts()
    link.delete()
    deleted = counts()

    assert delta(start, created) == dict.fromkeys(LINK_COUNTERS, 0) | {
        "tinylink_links_created_total": 1
    }
    assert delta(created, updated) == dict.fromkeys(LINK_COUNTERS, 0) | {
        "tinylink_links_updated_total": 1
    }
    assert delta(updated, deleted) == dict.fromkeys(LINK_COUNTERS, 0) | {
        "tinylink_links_deleted_total": 1
    }


def test_a_link_added_in_the_admin_counts_as_created(admin_client):
    before = value(scrape(admin_client), "tinylink_links_created_total")
    response = admin_client.post(
        "/admin/links/link/add/",
        {
            "short_code": "fresh",
            "target_url": "https://example.com/fresh",
            "owner": "",
            "is_active": "on",
            "expires_at_0": "",
            "expires_at_1": "",
            "max_clicks": "",
        },
    )
    assert response.status_code == 302
    assert Link.objects.filter(short_code="fresh").exists()
    after = value(scrape(admin_client), "tinylink_links_created_total")
    assert after - before == 1


def test_links_deleted_in_bulk_in_the_admin_count_as_deleted(admin_client):
    links = [
        Link.objects.create(short_code=code, target_url="https://example.com/")
        for code in ("gone1", "gone2")
    ]
    before = value(scrape(admin_client), "tinylink_links_deleted_total")
    response = admin_client.post(
        "/admin/links/link/",
        {
            "action": "delete_selected",
            "_selected_action": [link.pk for link in links],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Link.objects.filter(short_code__in=["gone1", "gone2"]).exists()
    after = value(scrape(admin_client), "tinylink_links_deleted_total")
    assert after - before == 2


def test_admin_bulk_actions_count_each_changed_link_as_updated(admin_client):
    soon = timezone.now() + timedelta(days=1)
    links = [
        Link.objects.create(short_code="bulk1", target_url="https://example.com/"),
        Link.objects.create(
            short_code="bulk2", target_url="https://example.com/", expires_at=soon
        ),
        Link.objects.create(
            short_code="bulk3",
            target_url="https://example.com/",
            expires_at=soon,
            is_active=False,
        ),
    ]

    def run(action):
        before = value(scrape(admin_client), "tinylink_links_updated_total")
        response = admin_client.post(
            "/admin/links/link/",
            {"action": action, "_selected_action": [link.pk for link in links]},
        )
        assert response.status_code == 302
        return value(scrape(admin_client), "tinylink_links_updated_total") - before

    # Only the links an action changes count: two were active, two expire.
    assert run("deactivate") == 2
    assert run("activate") == 3
    assert run("extend_expiry_7_days") == 2


def test_django_prometheus_exports_request_and_database_metrics(client, link):
    vendor = {"alias": "default", "vendor": connection.vendor}
    view = {"view": "links:redirect", "transport": "http", "method": "GET"}
    before = scrape(client)
    client.get("/go")
    after = scrape(client)

    assert value(after, "django_http_requests_total_by_method_total", method="GET")
    assert value(after, "django_http_responses_total_by_status_total", status="302")
    by_view = "django_http_requests_total_by_view_transport_method_total"
    assert value(after, by_view, **view) - value(before, by_view, **view) == 1
    executed = "django_db_execute_total"
    assert value(after, executed, **vendor) > value(before, executed, **vendor)


def redirects_by_worker(directory):
    """{worker's counter file: its own tinylink_redirects_total{redirect}}."""
    counts = {}
    for path in Path(directory).glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "tinylink_redirects_total" and sample.labels == {
                    "result": "redirect"
                }:
                    counts[path.name] = sample.value
    return counts


@pytest.mark.slow
def test_one_scrape_sums_the_redirects_of_every_worker(transactional_db, tmp_path):
    # A server of its own, not the module-wide `gunicorn_server`: the counts
    # must start from zero, in a metrics directory this test can read.
    requests = 300
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    server = GunicornServer(
        tmp_path,
        workers=3,
        threads=4,
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    Link.objects.create(short_code="hot", target_url="https://example.com/")
    server.start()
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(
                pool.map(
                    lambda _: http_request(f"{server.url}/hot")[0], range(requests)
                )
            )
        assert statuses == [302] * requests, server.log()[-3000:]
        status, _, body = http_request(f"{server.url}/metrics")
    finally:
        server.stop()

    assert status == 200
    samples = parse(body.decode())
    assert redirect_counts(samples) == {
        "redirect": requests,
        "not_found": 0,
        "gone": 0,
        "rate_limited": 0,
    }
    # The sum is of several processes' counts, not one worker's own.
    by_worker = redirects_by_worker(metrics_dir)
    assert sum(by_worker.values()) == requests
    assert sum(1 for count in by_worker.values() if count) >= 2, by_worker
