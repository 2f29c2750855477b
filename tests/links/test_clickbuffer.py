"""Buffered clicks (links/clickbuffer.py): counted in memory, written in one
batch per interval with one UPDATE per link and one upsert per link and
day, never lost on a failed write or at exit."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from links import click_hold, clickbuffer
from links.models import Link, LinkDailyClicks


@pytest.fixture(autouse=True)
def _buffered(settings):
    # Nothing written by a thread during these tests unless one asks.
    settings.CLICK_FLUSH_SECONDS = 3600
    clickbuffer._flusher["pid"] = None


def make(code, **fields):
    fields.setdefault("target_url", "https://example.com/")
    return Link.objects.create(short_code=code, **fields)


def _daily(link):
    return dict(LinkDailyClicks.objects.filter(link=link).values_list("day", "clicks"))


def test_clicks_wait_in_memory_then_one_batch_writes_them(
    transactional_db, settings, click_writes
):
    settings.CLICK_FLUSH_SECONDS = 3600
    clickbuffer._flusher["pid"] = -1  # as if this process had its thread
    a, b = make("a"), make("b")
    day = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    for at in (day, day + timedelta(minutes=2), day + timedelta(minutes=3)):
        clickbuffer.add(a, at)
    clickbuffer.add(b, day)
    a.refresh_from_db()
    assert (a.click_count, clickbuffer.pending()) == (0, 4)

    # The look for a restore is made at most once per interval: made now.
    settings.CLICK_HOLD_CHECK_SECONDS = 3600
    click_hold.holding()
    assert clickbuffer.flush() == (4, 0)
    # Which links still exist (locked, on PostgreSQL), then one UPDATE for
    # both links and one upsert for their three link-days.
    assert click_writes == ["SELECT", "UPDATE", "INSERT"]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.click_count, b.click_count) == (3, 1)
    assert a.last_access_at == day + timedelta(minutes=3)
    assert _daily(a) == {day.date(): 1, (day + timedelta(days=1)).date(): 2}
    assert clickbuffer.pending() == 0


def test_last_access_never_goes_back(transactional_db):
    link = make("a")
    later = datetime(2026, 12, 1, 12, tzinfo=UTC)
    Link.objects.filter(pk=link.pk).update(last_access_at=later)
    clickbuffer._flusher["pid"] = -1
    clickbuffer.add(link, later - timedelta(hours=1))
    clickbuffer.flush()
    link.refresh_from_db()
    assert (link.click_count, link.last_access_at) == (1, later)


def test_a_failed_write_keeps_the_clicks_for_the_next(transactional_db, monkeypatch):
    from django.db import OperationalError

    link = make("a")
    clickbuffer._flusher["pid"] = -1
    clickbuffer.add(link, datetime.now(UTC))

    def fail(batch):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(clickbuffer, "_write", fail)
        assert clickbuffer.flush() == (0, 0)
        assert clickbuffer.pending() == 1
        clickbuffer.add(link, datetime.now(UTC))
    assert clickbuffer.flush() == (2, 0)
    link.refresh_from_db()
    assert link.click_count == 2


def test_an_unexpected_error_keeps_the_clicks_too(
    transactional_db, monkeypatch, caplog
):
    link = make("a")
    clickbuffer._flusher["pid"] = -1
    clickbuffer.add(link, datetime.now(UTC))

    def bug(batch):
        raise RuntimeError("a bug in the write")

    with monkeypatch.context() as patched:
        patched.setattr(clickbuffer, "_write", bug)
        patched.setitem(clickbuffer._flusher, "warned_at", None)
        assert clickbuffer.flush() == (0, 0)
    assert clickbuffer.pending() == 1
    assert "RuntimeError: a bug in the write" in caplog.text
    assert clickbuffer.flush() == (1, 0)


def test_clicks_of_a_deleted_link_are_dropped_and_said(transactional_db, caplog):
    gone, kept = make("gone"), make("kept")
    clickbuffer._flusher["pid"] = -1
    now = datetime.now(UTC)
    clickbuffer.add(gone, now)
    clickbuffer.add(kept, now)
    gone.delete()
    assert clickbuffer.flush() == (1, 1)
    assert "1 click(s) were of links that no longer exist" in caplog.text
    assert Link.objects.get(short_code="kept").click_count == 1


def test_many_threads_lose_nothing(transactional_db):
    link = make("a")
    clickbuffer._flusher["pid"] = -1
    now = datetime.now(UTC)
    stop = threading.Event()

    def flushing():
        while not stop.is_set():
            clickbuffer.flush()
        connection.close()

    def clicking():
        for _ in range(500):
            clickbuffer.add(link, now)

    flusher = threading.Thread(target=flushing)
    flusher.start()
    clickers = [threading.Thread(target=clicking) for _ in range(8)]
    for thread in clickers:
        thread.start()
    for thread in clickers:
        thread.join()
    stop.set()
    flusher.join()
    clickbuffer.flush()
    link.refresh_from_db()
    assert link.click_count == 4000
    assert sum(_daily(link).values()) == 4000


def test_at_exit_what_is_pending_is_written_even_while_held(transactional_db):
    link = make("a")
    clickbuffer._flusher["pid"] = -1
    with click_hold.hold_clicks():
        clickbuffer.add(link, datetime.now(UTC))
        assert clickbuffer.flush() == (0, 0)  # held back while the flag is up
        # The process is going away: written rather than lost.
        clickbuffer.flush_at_exit()
    link.refresh_from_db()
    assert (link.click_count, clickbuffer.pending()) == (1, 0)


def test_a_forked_child_starts_with_nothing_pending():
    import os

    clickbuffer._pending[(1, "x")] = [1, datetime.now(UTC), {}]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it has pending, then leave at once
        os.write(write, str(len(clickbuffer._pending)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"0"
    clickbuffer._pending.clear()
