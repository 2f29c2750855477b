"""Rate limits: links.ratelimit itself, then the redirect and the API through
the whole stack, on the local-memory cache and on Redis."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from links.ratelimit import Rate, hit, parse_rate
from tests.links.ratelimit_helpers import (
    T0,
)

pytestmark = pytest.mark.usefixtures("_clean_counters", "clock", "_no_trusted_proxies")


# --- parse_rate -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/minute", Rate(100, 60)),
        ("100/min", Rate(100, 60)),
        ("100/m", Rate(100, 60)),
        ("10/5s", Rate(10, 5)),
        ("10/second", Rate(10, 1)),
        ("1/hour", Rate(1, 3600)),
        ("5/day", Rate(5, 86400)),
        ("30/15min", Rate(30, 900)),
        (" 20 / 2 h ", Rate(20, 7200)),
    ],
)
def test_parse_rate_reads_count_and_period(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "   ", None])
def test_parse_rate_of_nothing_means_no_limit(text):
    assert parse_rate(text) is None


@pytest.mark.parametrize(
    "text",
    ["abc", "0/min", "-1/min", "10", "/minute", "10/fortnight", "10/minutes"],
)
def test_parse_rate_refuses_malformed_rates(text):
    with pytest.raises(ImproperlyConfigured, match="100/minute"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["10/0s", "10/0min", "10/000h"])
def test_parse_rate_refuses_a_zero_length_period(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


# --- hit --------------------------------------------------------------------


def test_hits_up_to_the_limit_pass_and_the_next_one_waits():
    rate = Rate(3, 60)
    assert [hit("s", "k", rate, now=T0 + 10) for _ in range(3)] == [0, 0, 0]
    wait = hit("s", "k", rate, now=T0 + 10)
    assert 0 < wait <= rate.period
    assert wait == 50


def test_every_hit_over_the_limit_keeps_waiting():
    rate = Rate(1, 60)
    hit("s", "k", rate, now=T0 + 1)
    assert [hit("s", "k", rate, now=T0 + 1) for _ in range(3)] == [59, 59, 59]


@pytest.mark.parametrize(
    ("offset", "wait"), [(0, 60), (0.5, 60), (59, 1), (59.5, 1), (59.999, 1)]
)
def test_wait_is_the_rest_of_the_window_rounded_up_and_never_zero(offset, wait):
    rate = Rate(1, 60)
    hit("s", "k", rate, now=T0 + offset)
    assert hit("s", "k", rate, now=T0 + offset) == wait


def test_a_new_window_starts_counting_again():
    rate = Rate(2, 60)
    for _ in range(3):
        hit("s", "k", rate, now=T0 + 59)
    assert hit("s", "k", rate, now=T0 + 59) > 0
    assert hit("s", "k", rate, now=T0 + 60) == 0
    assert hit("s", "k", rate, now=T0 + 61) == 0
    assert hit("s", "k", rate, now=T0 + 62) > 0


def test_short_windows_follow_their_own_period():
    rate = parse_rate("1/5s")
    assert hit("s", "k", rate, now=T0 + 1) == 0
    assert hit("s", "k", rate, now=T0 + 4.5) == 1
    assert hit("s", "k", rate, now=T0 + 5) == 0


def test_different_keys_are_counted_separately():
    rate = Rate(1, 60)
    assert hit("s", "192.0.2.1", rate, now=T0) == 0
    assert hit("s", "192.0.2.2", rate, now=T0) == 0
    assert hit("s", "192.0.2.1", rate, now=T0) > 0


def test_different_scopes_are_counted_separately():
    rate = Rate(1, 60)
    assert hit("redirect", "192.0.2.1", rate, now=T0) == 0
    assert hit("write-ip", "192.0.2.1", rate, now=T0) == 0
    assert hit("redirect", "192.0.2.1", rate, now=T0) > 0


def test_hit_without_now_reads_the_clock(clock):
    rate = Rate(1, 60)
    clock.now = T0 + 45
    hit("s", "k", rate)
    assert hit("s", "k", rate) == 15
