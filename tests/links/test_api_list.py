"""The links API contract: listing, paging, searching, filters, ordering."""

from datetime import timedelta

import pytest
from django.utils import timezone

from links.models import Link
from tests.links.api_helpers import make

pytestmark = pytest.mark.usefixtures("_no_rate_limits")


def test_list_is_paginated_newest_first(api, user):
    now = timezone.now()
    for i in range(3):
        make(f"l{i}", user, created_at=now - timedelta(minutes=i))
    body = api.get("/api/links?page_size=2").json()
    assert body["count"] == 3
    assert [link["short_code"] for link in body["results"]] == ["l0", "l1"]
    assert body["next"].endswith("page=2&page_size=2")
    assert body["previous"] is None
    page2 = api.get(body["next"]).json()
    assert [link["short_code"] for link in page2["results"]] == ["l2"]


def test_default_page_size_is_50_and_max_500(api, user):
    Link.objects.bulk_create(
        Link(short_code=f"c{i}", target_url="https://example.com/", owner=user)
        for i in range(501)
    )
    assert len(api.get("/api/links").json()["results"]) == 50
    assert len(api.get("/api/links?page_size=9999").json()["results"]) == 500


def test_search_matches_code_or_target(api, user):
    make("alpha", user, target_url="https://example.com/one")
    make("beta", user, target_url="https://example.org/needle")
    make("gamma", user)
    codes = {r["short_code"] for r in api.get("/api/links?q=ALP").json()["results"]}
    assert codes == {"alpha"}
    codes = {r["short_code"] for r in api.get("/api/links?q=needle").json()["results"]}
    assert codes == {"beta"}


def test_filter_by_state(api, user):
    past = timezone.now() - timedelta(days=1)
    make("ok", user)
    make("exp", user, expires_at=past)
    make("exh", user, max_clicks=1, click_count=1)
    make("off", user, is_active=False)
    for state, code in [
        ("active", "ok"),
        ("expired", "exp"),
        ("exhausted", "exh"),
        ("inactive", "off"),
    ]:
        results = api.get(f"/api/links?state={state}").json()["results"]
        assert [(r["short_code"], r["state"]) for r in results] == [(code, state)]


def test_ordering_by_clicks(api, user):
    make("few", user, click_count=1)
    make("many", user, click_count=9)
    make("some", user, click_count=5)
    codes = [
        r["short_code"]
        for r in api.get("/api/links?ordering=-click_count").json()["results"]
    ]
    assert codes == ["many", "some", "few"]
    codes = [
        r["short_code"]
        for r in api.get("/api/links?ordering=click_count").json()["results"]
    ]
    assert codes == ["few", "some", "many"]


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "ordering=target_url",
        "ordering=-password",
        "page=abc",
        "page=999",
        "page_size=x",
    ],
)
def test_bad_list_parameters_are_4xx_envelopes(api, user, query):
    make("one", user)
    response = api.get(f"/api/links?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("validation_error", "not_found")
