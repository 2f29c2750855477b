"""The database breaker: its states on a clock of the test's own, and which
real database errors open it (tests/opsconsole/test_database_down.py shows
it under gunicorn, with PostgreSQL cut off)."""

import sqlite3

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from opsconsole import breaker
from opsconsole.engines import engine_for
from tests.servers import database_url

SECONDS = 3.0
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a database server to lose"
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def tripped(clock):
    subject = breaker.Breaker(clock=clock)
    assert subject.failed(SECONDS) is True
    return subject


def test_a_closed_breaker_lets_everyone_through(clock):
    subject = breaker.Breaker(clock=clock)
    assert [subject.admit(SECONDS) for _ in range(3)] == [breaker.CLOSED] * 3
    assert subject.succeeded() is None


def test_after_a_failure_everyone_is_turned_away_until_the_interval_is_over(
    tripped, clock
):
    clock.now += SECONDS - 0.01
    assert tripped.admit(SECONDS) == breaker.OPEN


def test_after_the_interval_one_caller_tries_and_the_others_wait(tripped, clock):
    clock.now += SECONDS
    assert [tripped.admit(SECONDS) for _ in range(3)] == [
        breaker.TRIAL,
        breaker.OPEN,
        breaker.OPEN,
    ]


def test_a_trial_that_fails_keeps_it_open_another_interval(tripped, clock):
    clock.now += SECONDS
    assert tripped.admit(SECONDS) == breaker.TRIAL
    clock.now += 1
    # Already open: not reported as opening again.
    assert tripped.failed(SECONDS) is False
    clock.now += SECONDS - 0.01
    assert tripped.admit(SECONDS) == breaker.OPEN
    clock.now += 0.01
    assert tripped.admit(SECONDS) == breaker.TRIAL


def test_a_trial_that_never_reports_does_not_keep_it_open_for_good(tripped, clock):
    clock.now += SECONDS
    assert tripped.admit(SECONDS) == breaker.TRIAL
    clock.now += SECONDS
    assert tripped.admit(SECONDS) == breaker.TRIAL


def test_a_trial_that_succeeds_closes_it_and_says_for_how_long(tripped, clock):
    clock.now += SECONDS + 0.5
    assert tripped.admit(SECONDS) == breaker.TRIAL
    assert tripped.succeeded() == SECONDS + 0.5
    assert tripped.admit(SECONDS) == breaker.CLOSED


# --- which errors open it -------------------------------------------------------


@on_postgresql
def test_a_refused_connection_means_the_server_is_unreachable(db):
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=127.0.0.1 port=1 connect_timeout=2")
    assert engine_for().is_unreachable(refused.value)


def _read_the_links(statement):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
        cursor.execute("SELECT COUNT(*) FROM links_link")


@on_postgresql
@pytest.mark.parametrize(
    "statement",
    ["SET LOCAL lock_timeout = '50ms'", "SET LOCAL statement_timeout = '50ms'"],
)
def test_one_statement_that_times_out_is_not_an_outage(transactional_db, statement):
    with psycopg.connect(database_url()) as locker:
        locker.execute("LOCK TABLE links_link IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(DatabaseError) as timed_out:
            _read_the_links(statement)
    # Django's error, with psycopg's as its cause, as the middleware sees it.
    assert isinstance(timed_out.value.__cause__, psycopg.OperationalError)
    assert not engine_for().is_unreachable(timed_out.value)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's lock")
def test_a_busy_sqlite_file_is_not_an_outage(transactional_db, tmp_path):
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked") as locked:
        waiter.execute("CREATE TABLE t (id int)")
    holder.close()
    waiter.close()
    assert not engine_for().is_unreachable(locked.value)
