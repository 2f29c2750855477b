"""Buffered clicks and cached links under the real server (gunicorn with
deploy/gunicorn.conf.py), on the database under test.

Each worker keeps its clicks in memory (links/clickbuffer.py) and its links in
a cache (links/lookup.py). Servers here get the environment that leaves one
mechanism alone to do the work: with CLICK_FLUSH_SECONDS=3600 the flusher
thread never writes during a test, so every click in the database was written
by the flush at a worker's exit (gunicorn's worker_exit hook, atexit).
"""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from links import lookup
from links.auth import issue_token
from links.models import Link, LinkDailyClicks
from tests.servers import ROOT, GunicornServer, database_url, http_request, poll

pytestmark = pytest.mark.slow

ONLY_AT_EXIT = {"CLICK_FLUSH_SECONDS": "3600"}


def fire(url, count, threads=16):
    """GET `url` `count` times from `threads` clients at once; the statuses."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: http_request(url)[0], range(count)))


def clicks():
    """(sum of click_count, sum of the daily counters) over every link."""
    total = Link.objects.aggregate(n=Sum("click_count"))["n"] or 0
    daily = LinkDailyClicks.objects.aggregate(n=Sum("clicks"))["n"] or 0
    return total, daily


def running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def serving(tmp_path, *, workers, env):
    server = GunicornServer(tmp_path, workers=workers, threads=4, extra_env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def terminate(server):
    """SIGTERM to the master, as systemd, Docker or Kubernetes stop it; returns
    once it has exited, its workers with it."""
    workers = server.worker_pids()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0, server.log()[-3000:]
    assert [pid for pid in workers if running(pid)] == []


def links(*codes):
    return [
        Link.objects.create(short_code=code, target_url=f"https://example.com/{code}")
        for code in codes
    ]


def test_sigterm_writes_every_buffered_click(transactional_db, tmp_path):
    links("a", "b", "c")
    started = timezone.now()
    with serving(tmp_path, workers=3, env=ONLY_AT_EXIT) as server:
        statuses = []
        for code in "abc":
            statuses += fire(f"{server.url}/{code}", 100, threads=24)
        assert statuses == [302] * 300, server.log()[-3000:]
        terminate(server)
    assert clicks() == (300, 300), server.log()[-3000:]
    for link in Link.objects.all():
        assert link.click_count == 100
        assert started <= link.last_access_at <= timezone.now()


def test_a_worker_stopped_while_its_flusher_writes_waits_for_that_write(
    transactional_db,
):
    # The thread has taken its batch out of the buffer, so the exit flush
    # finds nothing pending; if it did not wait, the daemon thread would die
    # with the process, its transaction unfinished.
    links("busy")
    ended = subprocess.run(
        [sys.executable, "-m", "tests.links.exit_during_flush", "busy"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "CLICK_FLUSH_SECONDS": "0.05",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == 0, ended.stdout + ended.stderr
    assert clicks() == (10, 10)


def test_workers_recycled_by_max_requests_write_their_clicks(
    transactional_db, tmp_path
):
    links("hot")
    env = {
        **ONLY_AT_EXIT,
        "GUNICORN_MAX_REQUESTS": "40",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
    }
    with serving(tmp_path, workers=2, env=env) as server:
        first = set(server.worker_pids())
        statuses = fire(f"{server.url}/hot", 400)
        assert statuses == [302] * 400, (statuses, server.log()[-3000:])
        holding = set(server.worker_pids())
        # Each worker served about 200 of 400: each was replaced several times.
        assert first.isdisjoint(holding)
        assert server.log().count("Booting worker") >= 2 + 6

        # Requests that count no click, until the workers that may still hold
        # some have been recycled too: then every click is in the database
        # while the server keeps running.
        def recycled():
            fire(f"{server.url}/health/live", 20, threads=4)
            return holding.isdisjoint(server.worker_pids())

        assert poll(recycled, True), server.log()[-3000:]
        assert poll(clicks, (400, 400)) == (400, 400)
        terminate(server)
    assert clicks() == (400, 400)


def test_a_reload_writes_the_clicks_of_the_workers_it_replaces(
    transactional_db, tmp_path
):
    links("r")
    with serving(tmp_path, workers=2, env=ONLY_AT_EXIT) as server:
        assert fire(f"{server.url}/r", 150) == [302] * 150
        before = set(server.worker_pids())
        server.process.send_signal(signal.SIGHUP)
        assert poll(lambda: before.isdisjoint(server.worker_pids()), True)
        assert poll(clicks, (150, 150)) == (150, 150), server.log()[-3000:]
        # The new workers redirect and count too.
        assert fire(f"{server.url}/r", 50) == [302] * 50
        terminate(server)
    assert clicks() == (200, 200)


def kill_the_worker(server):
    """SIGKILL the one worker; returns once the master has started another."""
    [pid] = server.worker_pids()
    os.kill(pid, signal.SIGKILL)
    assert poll(lambda: len(set(server.worker_pids()) - {pid}), 1) == 1


def test_kill_9_loses_at_most_the_clicks_of_the_last_flush_interval(
    transactional_db, tmp_path
):
    """The bound: SIGKILL of a worker (or the OOM killer) loses the clicks it
    counted since its flusher thread last committed, that is those of its
    last CLICK_FLUSH_SECONDS plus the duration of a flush under way (and,
    while the database cannot be written, all since the last write that
    succeeded). Everything older is in the database. A graceful stop, a
    recycle or a reload loses nothing (the tests above).

    Here CLICK_FLUSH_SECONDS is an hour, so every click of the killed worker
    is within the bound and is lost, and only those: its replacement counts
    its own and writes them when it stops."""
    links("k")
    with serving(tmp_path, workers=1, env=ONLY_AT_EXIT) as server:
        assert fire(f"{server.url}/k", 60) == [302] * 60
        kill_the_worker(server)
        assert clicks() == (0, 0)
        assert fire(f"{server.url}/k", 25) == [302] * 25
        terminate(server)
    assert clicks() == (25, 25)


def test_kill_9_loses_nothing_the_flusher_has_written(transactional_db, tmp_path):
    """The same bound with CLICK_FLUSH_SECONDS=0.2: clicks older than one
    interval have been written by the flusher thread (committed, not only
    held in an open transaction), so a SIGKILL after that loses none."""
    links("f")
    with serving(tmp_path, workers=1, env={"CLICK_FLUSH_SECONDS": "0.2"}) as server:
        assert fire(f"{server.url}/f", 60) == [302] * 60
        assert poll(clicks, (60, 60)) == (60, 60)
        kill_the_worker(server)
        assert clicks() == (60, 60)
        # The replacement starts its own flusher.
        assert fire(f"{server.url}/f", 25) == [302] * 25
        assert poll(clicks, (85, 85)) == (85, 85)
        terminate(server)
    assert clicks() == (85, 85)


def test_clicks_reach_the_database_and_api_without_any_shutdown(
    transactional_db, tmp_path, user
):
    Link.objects.create(
        short_code="seen", target_url="https://example.com/", owner=user
    )
    _, key = issue_token(user)
    # The default CLICK_FLUSH_SECONDS (0.5).
    with serving(tmp_path, workers=3, env={}) as server:
        assert fire(f"{server.url}/seen", 200) == [302] * 200
        assert poll(clicks, (200, 200)) == (200, 200), server.log()[-3000:]
        api = f"{server.url}/api/links/seen"
        headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
        status, _, body = http_request(api, headers=headers)
        assert status == 200, body
        shown = json.loads(body)
        assert shown["click_count"] == 200
        assert shown["last_access_at"] is not None
        status, _, body = http_request(f"{api}/stats?days=2", headers=headers)
        assert status == 200, body
        assert sum(day["clicks"] for day in json.loads(body)["days"]) == 200


def answer(url):
    status, headers, _ = http_request(url)
    return status, headers.get("Location")


def answers(url, count=20):
    """answer() of `count` requests at once, spread over the workers."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: answer(url), range(count)))


def settled(url, expected, deadline=15):
    """Polls until 20 requests in a row all answer `expected`; the last 20."""
    return poll(lambda: answers(url), [expected] * 20, deadline)


def warm(url, expected):
    """Many requests, so that every worker has the answer in its cache."""
    assert answers(url, count=150) == [expected] * 150


# The edit tests: 3 workers, the default LINK_CACHE_CHECK_SECONDS, each change
# committed in this process (the version bump happens on that commit). A test
# starts a server of its own once its links exist, so that the first version
# its workers read is the last one before the changes under test. (On the
# module's gunicorn_server, the emptying of the tables after the test before
# moves the version too: a worker that saw that only after the warm-up would
# forget the old answer whether or not the change under test bumped it.)


def test_edits_reach_every_worker(transactional_db, tmp_path):
    # One change at a time: a change is seen by every worker (all answer the
    # new way) before the next one is warmed, so each scenario is decided by
    # its own change's bump.
    [_, moved, gone] = links("off", "moved", "gone")
    with serving(tmp_path, workers=3, env={}) as server:
        base = server.url
        warm(f"{base}/off", (302, "https://example.com/off"))
        Link.objects.filter(short_code="off").update(is_active=False)
        assert settled(f"{base}/off", (410, None)) == [(410, None)] * 20

        warm(f"{base}/moved", (302, "https://example.com/moved"))
        moved.target_url = "https://example.org/"
        moved.save()
        new = (302, "https://example.org/")
        assert settled(f"{base}/moved", new) == [new] * 20

        warm(f"{base}/gone", (302, "https://example.com/gone"))
        gone.delete()
        assert settled(f"{base}/gone", (404, None)) == [(404, None)] * 20

        # A code asked for before it existed is cached as "no such link".
        warm(f"{base}/later", (404, None))
        links("later")
        new = (302, "https://example.com/later")
        assert settled(f"{base}/later", new) == [new] * 20


def test_a_restore_bump_reaches_every_worker(transactional_db, tmp_path):
    # What a restore does: links change under the ORM (no version bump of
    # their own), then links.lookup.bump_version().
    links("raw")
    with serving(tmp_path, workers=3, env={}) as server:
        url = f"{server.url}/raw"
        warm(url, (302, "https://example.com/raw"))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE links_link SET target_url = %s WHERE short_code = %s",
                ["https://example.net/restored", "raw"],
            )
        # Until the bump a worker may still redirect to the old target.
        lookup.bump_version()
        new = (302, "https://example.net/restored")
        assert settled(url, new) == [new] * 20
