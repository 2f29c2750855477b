"""Clicks during a restore: kept pending in links.clickbuffer while the
database is being replaced, then added to the restored data; never written
into data about to be thrown away, never given to another link."""

import threading

import pytest
from django.db import connection

from links import click_hold, clickbuffer
from links.models import Link, LinkDailyClicks


@pytest.fixture(autouse=True)
def _look_at_every_request(settings):
    # Every request looks at the flag, so the first one after the hold adds
    # what was held (in production: the first after at most a second).
    settings.CLICK_HOLD_CHECK_SECONDS = 0
    # The test flushes where the process's thread would: none is started.
    clickbuffer._flusher["pid"] = -1


def _total_daily(link):
    return sum(
        LinkDailyClicks.objects.filter(link=link).values_list("clicks", flat=True)
    )


def test_clicks_during_the_hold_are_counted_after_it(transactional_db, client):
    link = Link.objects.create(short_code="held", target_url="https://example.com/")
    with click_hold.hold_clicks():
        answers = [client.get("/held").status_code for _ in range(5)]
        link.refresh_from_db()
        # Nothing written into the data that is being replaced.
        assert link.click_count == 0
        assert _total_daily(link) == 0
    assert answers == [302] * 5

    assert client.get("/held").status_code == 302

    link.refresh_from_db()
    assert link.click_count == 6
    assert _total_daily(link) == 6
    assert link.last_access_at is not None


def test_a_link_with_a_click_limit_answers_503_during_the_hold(
    transactional_db, client
):
    Link.objects.create(
        short_code="limited", target_url="https://example.com/", max_clicks=3
    )
    with click_hold.hold_clicks():
        answer = client.get("/limited", HTTP_ACCEPT="application/json")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert answer.json()["error"]["code"] == "unavailable"
    assert Link.objects.get(short_code="limited").click_count == 0


def test_head_is_not_held(transactional_db, client):
    Link.objects.create(short_code="held", target_url="https://example.com/")
    with click_hold.hold_clicks():
        assert client.head("/held").status_code == 302
        assert clickbuffer.pending() == 0


def test_held_clicks_of_a_link_the_restored_data_lacks_are_dropped_not_misgiven(
    transactional_db, client, caplog
):
    old = Link.objects.create(short_code="gone", target_url="https://example.com/")
    with click_hold.hold_clicks():
        client.get("/gone")
        client.get("/gone")
        assert clickbuffer.pending() == 2
        # What a restore of an older snapshot may do: the id now belongs to
        # a link with another code.
        Link.objects.filter(pk=old.pk).update(short_code="other")
    assert clickbuffer.flush() == (0, 2)
    assert Link.objects.get(pk=old.pk).click_count == 0
    assert "2 click(s) were of links that no longer exist" in caplog.text


def test_every_thread_of_a_process_holds_and_nothing_is_lost(transactional_db, client):
    link = Link.objects.create(short_code="held", target_url="https://example.com/")
    with click_hold.hold_clicks():
        workers = [
            threading.Thread(
                target=lambda: [
                    clickbuffer.add(link, link.created_at) for _ in range(250)
                ]
            )
            for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        # Nothing written while the flag is up, whoever flushes.
        assert clickbuffer.flush() == (0, 0)
        assert clickbuffer.pending() == 2000
    assert clickbuffer.flush() == (2000, 0)
    link.refresh_from_db()
    assert link.click_count == 2000
    assert _total_daily(link) == 2000
    connection.close()
