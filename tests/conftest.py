import pytest
from django.contrib.auth import get_user_model

from tests.servers import GunicornServer


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic`; in-process tests render
    # templates without it. Servers started by tests use the real setting.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture(autouse=True)
def _private_backup_staging(settings, tmp_path):
    # Dumps pass through here on their way to the store: one per test, so
    # no test inherits another's left-overs.
    settings.BACKUP_STAGING_DIR = tmp_path / "backup-staging"


@pytest.fixture(autouse=True)
def _no_held_clicks(settings, monkeypatch):
    # Each test starts with nothing pending and looks at the restore flag
    # anew; the restores tests run look for it often, so they need not wait.
    from links import click_hold, clickbuffer

    settings.CLICK_HOLD_CHECK_SECONDS = 0.05
    monkeypatch.setattr(click_hold, "_state", {"checked_at": None, "holding": False})
    monkeypatch.setattr(clickbuffer, "_pending", {})
    yield
    # A flusher thread a test started stops at its next turn.
    clickbuffer._flusher["pid"] = None


@pytest.fixture(autouse=True)
def _exact_redirect_caches(settings):
    # In-process tests read counts and edits right after a request, inside a
    # transaction that never commits (so the links' version, bumped on
    # commit, never moves): clicks are written before the redirect answers
    # and no link is cached. The buffered, cached defaults have tests of
    # their own (tests/links/test_clickbuffer.py, test_lookup.py).
    from links import lookup

    settings.CLICK_FLUSH_SECONDS = 0
    settings.LINK_CACHE_SIZE = 0
    settings.LINK_CACHE_CHECK_SECONDS = 0
    lookup.forget_all()
    yield
    lookup.forget_all()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs half a second per test user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _cache_reachable(monkeypatch):
    # After a cache failure the rate limiter stays off for a while in this
    # process; no test may inherit that from an earlier one.
    from links import ratelimit

    monkeypatch.setattr(ratelimit, "_outage", {"skip_until": 0.0, "warned_at": None})


@pytest.fixture(autouse=True)
def _database_reachable(monkeypatch):
    # The breaker, the once-a-minute traceback and damage met are per
    # process; no test may inherit them from an earlier one.
    from links import errors
    from opsconsole import breaker, health

    monkeypatch.setattr(breaker, "database", breaker.Breaker())
    monkeypatch.setattr(errors, "_tracebacks", {"logged_at": None})
    monkeypatch.setattr(health, "_damage", {"seen": None})


@pytest.fixture
def clock(monkeypatch):
    """Pins the time the limiter reads, so no test can cross a window edge."""
    from links import ratelimit
    from tests.links.ratelimit_helpers import NOW, Clock

    pinned = Clock(NOW)
    monkeypatch.setattr(ratelimit, "time", pinned)
    return pinned


@pytest.fixture
def frozen_now(monkeypatch):
    """Pins django.utils.timezone.now() for the test and the code it calls, so
    a test computing "today" agrees with the view even across UTC midnight."""
    from django.utils import timezone

    pinned = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: pinned)
    return pinned


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="correct horse 1")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="correct horse 2")


@pytest.fixture(scope="module")
def _module_gunicorn(django_db_setup, tmp_path_factory):
    # After django_db_setup, so that database_url() names the test database.
    # That creates it only for a session with a test that uses the database:
    # gunicorn_server, the way in, brings transactional_db.
    server = GunicornServer(tmp_path_factory.mktemp("gunicorn"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def gunicorn_server(_module_gunicorn, transactional_db):
    """The `make serve` entry point, on a free port, against the test database.

    One server serves all the tests of a module; transactional_db empties the
    tables after each test (the server's pooled connections sit idle between
    requests and hold no lock that would block the flush). What the server
    keeps in memory does carry over: its local-memory cache (rate-limit
    counters) and its metrics. A test that counts those, or needs its own
    environment, starts a GunicornServer of its own."""
    return _module_gunicorn
