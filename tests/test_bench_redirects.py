"""The pieces of bench/redirects.py (`make bench`): reading wrk's output, the
click check, the bare WSGI ceiling, and redirects.lua's counts against a
real server (slow, and skipped without wrk)."""

import io
import os
import shutil
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db.models import Sum

from bench import bare_wsgi
from bench.redirects_report import click_check
from bench.wrk import parse_wrk_output, run_wrk, wrk_command
from links.models import Link, LinkDailyClicks
from tests.servers import ROOT, GunicornServer, free_port, http_request

# Captured from wrk 4.1.0 with redirects.lua against gunicorn, one worker
# killed with SIGKILL during the run: its requests in flight went unanswered.
KILLED_WORKER = """\
Running 4s test @ http://127.0.0.1:18733
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    77.30ms   63.53ms 349.48ms   66.29%
    Req/Sec   226.47    124.79   530.00     76.32%
  Latency Distribution
     50%   81.02ms
     75%   97.17ms
     90%  133.91ms
     99%  325.96ms
  870 requests in 4.01s, 472.63KB read
  Socket errors: connect 0, read 3, write 0, timeout 0
Requests/sec:    216.93
Transfer/sec:    117.85KB
redirects.lua: sent=873 redirects=870 on_time=838 other=0 late=0 health=0
"""
# The same against codes half of which do not exist (404).
NOT_FOUND = """\
Running 3s test @ http://127.0.0.1:18732
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   211.10ms  278.57ms 930.24ms   86.27%
    Req/Sec    98.60     77.25   212.00     53.33%
  Latency Distribution
     50%   38.72ms
     75%  399.89ms
     90%  655.70ms
     99%  926.82ms
  201 requests in 3.06s, 185.88KB read
  Non-2xx or 3xx responses: 102
Requests/sec:     65.73
Transfer/sec:     60.79KB
redirects.lua: sent=201 redirects=99 on_time=88 other=102 late=0 health=0
"""


def test_parser_reads_counts_latencies_and_socket_errors():
    result = parse_wrk_output(KILLED_WORKER)

    assert result["requests"] == 870
    assert result["duration_s"] == pytest.approx(4.01)
    assert result["wrk_rps"] == pytest.approx(216.93)
    assert result["latency_s"] == pytest.approx(
        {50: 0.08102, 75: 0.09717, 90: 0.13391, 99: 0.32596}
    )
    assert result["socket_errors"] == dict(connect=0, read=3, write=0, timeout=0)
    assert result["non_2xx_3xx"] == 0
    assert result["tally"]["on_time"] == 838
    assert result["unanswered"] == 3


def test_parser_counts_error_answers_as_answered():
    result = parse_wrk_output(NOT_FOUND)

    assert result["non_2xx_3xx"] == 102
    assert result["socket_errors"] == dict(connect=0, read=0, write=0, timeout=0)
    assert (result["tally"]["redirects"], result["tally"]["other"]) == (99, 102)
    assert result["unanswered"] == 0


def test_parser_reads_seconds_and_microseconds():
    text = KILLED_WORKER.replace("99%  325.96ms", "99%    1.50s").replace(
        "50%   81.02ms", "50%  812.00us"
    )

    latency = parse_wrk_output(text)["latency_s"]

    assert latency[99] == pytest.approx(1.5)
    assert latency[50] == pytest.approx(0.000812)


def test_parser_refuses_output_without_the_scripts_counts():
    with pytest.raises(ValueError, match="not the output of wrk"):
        parse_wrk_output(KILLED_WORKER.rsplit("redirects.lua:", 1)[0])


def test_wrk_runs_longer_than_the_window_and_passes_the_codes(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/wrk")

    command = wrk_command(
        "http://127.0.0.1:1",
        links=1000,
        prefix="bench",
        window_s=10,
        drain_s=2.5,
        connections=64,
        threads=2,
        seed=7,
    )

    assert "--duration=13s" in command
    assert command[-5:] == ["--", "1000", "bench", "10000", "7"]


def test_missing_wrk_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    with pytest.raises(SystemExit, match="apt-get install -y wrk"):
        wrk_command(
            "http://127.0.0.1:1",
            links=1,
            prefix="b",
            window_s=1,
            drain_s=1,
            connections=1,
            threads=1,
            seed=1,
        )


def call_bare(path):
    started = {}

    def start_response(status, headers):
        started.update(status=status, headers=dict(headers))

    body = b"".join(bare_wsgi.application({"PATH_INFO": path}, start_response))
    return started["status"], started["headers"], body


def test_bare_app_answers_a_fixed_302():
    status, headers, body = call_bare("/seed0000001")

    assert status == "302 Found"
    assert headers["Location"] == "https://example.com/"
    assert (headers["Content-Length"], body) == ("0", b"")


def test_bare_app_answers_the_liveness_probe():
    status, _, body = call_bare("/health/live")

    assert (status, body) == ("200 OK", b"ok\n")


def run(sent, redirects, other=0, unanswered=None):
    unanswered = sent - redirects - other if unanswered is None else unanswered
    tally = {"sent": sent, "redirects": redirects, "other": other}
    return {"tally": tally, "unanswered": unanswered}


def row(counted, daily=None, graceful=True, main=None):
    return {
        "warmup": run(100, 100),
        "main": main or run(1000, 1000),
        "clicks_counted": counted,
        "daily_counted": counted if daily is None else daily,
        "graceful": graceful,
    }


def test_click_check_is_exact_when_every_request_was_answered():
    assert click_check(row(1100)) == {
        "completed": 1100,
        "counted": 1100,
        "daily_counted": 1100,
        "unanswered": 0,
        "exact": True,
        "ok": True,
    }
    assert not click_check(row(1101))["ok"]
    assert not click_check(row(1099))["ok"]


def test_click_check_needs_the_daily_counters_and_a_graceful_stop():
    assert not click_check(row(1100, daily=1099))["ok"]
    assert not click_check(row(1100, graceful=False))["ok"]


def test_click_check_falls_back_to_a_bound_with_unanswered_requests():
    main = run(1003, 1000)  # 3 requests that may or may not have counted

    assert click_check(row(1100, main=main))["exact"] is False
    assert click_check(row(1100, main=main))["ok"]
    assert click_check(row(1103, main=main))["ok"]
    assert not click_check(row(1104, main=main))["ok"]
    assert not click_check(row(1099, main=main))["ok"]


# --- against real servers ------------------------------------------------------


@pytest.fixture
def wrk_binary():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install -y wrk)")


@pytest.fixture
def bare_server(tmp_path):
    port = free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    with open(tmp_path / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.bare_wsgi:application",
                "-c",
                "deploy/gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url + "/health/live"):
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url):
    try:
        return http_request(url, timeout=2)[0] == 200
    except OSError:
        return False


OPTIONS = {"window_s": 1, "drain_s": 2, "connections": 8, "threads": 2, "seed": 3}


@pytest.mark.slow
def test_lua_counts_every_redirect_it_sent_as_answered(wrk_binary, bare_server):
    result = run_wrk(bare_server, links=10, prefix="seed", **OPTIONS)

    tally = result["tally"]
    assert tally["redirects"] > 0
    assert tally["sent"] == tally["redirects"]
    assert (result["unanswered"], tally["other"]) == (0, 0)
    # Requests let through by delay() just before the window closed go to
    # /health/live; each must have had its 200.
    assert tally["health"] == tally["late"]
    assert result["rps"] == tally["on_time"] / OPTIONS["window_s"]


@pytest.mark.slow
def test_database_counts_exactly_the_redirects_wrk_received(
    wrk_binary, transactional_db, tmp_path
):
    call_command("seed_links", "--count", "50", stdout=io.StringIO())
    server = GunicornServer(tmp_path, workers=2, threads=2)
    server.start(wait_path="/health/live")
    try:
        result = run_wrk(server.url, links=50, prefix="seed", **OPTIONS)
    finally:
        server.stop()

    assert result["unanswered"] == 0
    redirects = result["tally"]["redirects"]
    assert redirects > 0
    assert Link.objects.aggregate(n=Sum("click_count"))["n"] == redirects
    assert LinkDailyClicks.objects.aggregate(n=Sum("clicks"))["n"] == redirects
