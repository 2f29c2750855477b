"""Exact click counts under real concurrency: gunicorn with 3 worker processes
x 4 threads, hammered from 32 client threads, on the database under test."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.models import Sum

from links.models import Link, LinkDailyClicks
from tests.servers import http_request, poll

pytestmark = pytest.mark.slow

REQUESTS = 400


def _fire(url, count, threads=32):
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: http_request(url)[0], range(count)))


def test_no_click_is_lost_under_concurrent_redirects(gunicorn_server):
    link = Link.objects.create(short_code="hot", target_url="https://example.com/")
    statuses = _fire(f"{gunicorn_server.url}/hot", REQUESTS)
    assert statuses == [302] * REQUESTS, gunicorn_server.log()[-3000:]

    def counted():
        daily = LinkDailyClicks.objects.filter(link=link).aggregate(n=Sum("clicks"))
        return Link.objects.get(pk=link.pk).click_count, daily["n"]

    # Clicks are written by each worker within CLICK_FLUSH_SECONDS.
    assert poll(counted, (REQUESTS, REQUESTS)) == (REQUESTS, REQUESTS)


def test_max_clicks_is_never_overshot_under_concurrency(gunicorn_server):
    link = Link.objects.create(
        short_code="limited", target_url="https://example.com/", max_clicks=50
    )
    statuses = _fire(f"{gunicorn_server.url}/limited", 200)
    assert statuses.count(302) == 50
    assert statuses.count(410) == 150
    link.refresh_from_db()
    assert link.click_count == 50
    assert link.daily_clicks.aggregate(s=Sum("clicks"))["s"] == 50
