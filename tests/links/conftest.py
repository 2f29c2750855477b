"""Fixtures shared by several tests/links modules.

None is autouse: modules that want them say so with
`pytestmark = pytest.mark.usefixtures(...)`."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from links.auth import issue_token
from links.models import Link
from links.templatetags.link_admin import CACHE_KEY
from tests.links.admin_helpers import make_link


@pytest.fixture
def _fresh_summary():
    # The admin index's summary is cached for a minute.
    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


@pytest.fixture
def states(db):
    """One link in each state, keyed by state."""
    now = timezone.now()
    return {
        "active": make_link("act1"),
        "expired": make_link("exp1", expires_at=now - timedelta(hours=1)),
        "exhausted": make_link("exh1", max_clicks=3, click_count=3),
        "inactive": make_link("ina1", is_active=False),
    }


@pytest.fixture
def _no_rate_limits(settings):
    settings.RATE_LIMIT_WRITES = ""


@pytest.fixture
def api(user):
    _, key = issue_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff_api(db):
    """Staff with the model permissions to see and change every link (the
    staff flag alone grants only their own: tests/links/test_access.py)."""
    staff = get_user_model().objects.create_user("root", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_link", "change_link"])
    )
    _, key = issue_token(staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def _no_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = []


@pytest.fixture
def link(db):
    return Link.objects.create(short_code="go", target_url="https://example.com/")


@pytest.fixture
def three_per_minute(settings):
    settings.RATE_LIMIT_REDIRECTS = "3/minute"


class _Recording:
    def __init__(self, cursor, seen):
        self.cursor, self.seen = cursor, seen

    def execute(self, sql, params):
        self.seen.append(sql.split()[0].upper())
        return self.cursor.execute(sql, params)

    def fetchall(self):
        return self.cursor.fetchall()


@pytest.fixture
def click_writes(monkeypatch):
    """The statements links.clickbuffer sends (first word), recorded at its
    one way in: on PostgreSQL they pass the driver, not Django's cursor."""
    from contextlib import contextmanager

    from links import clickbuffer

    seen = []
    real = clickbuffer._cursor

    @contextmanager
    def recording():
        with real() as cursor:
            yield _Recording(cursor, seen)

    monkeypatch.setattr(clickbuffer, "_cursor", recording)
    return seen


@pytest.fixture
def lookup_reads(monkeypatch):
    """The SQL of every read links.lookup makes, at its one way in."""
    from links import lookup

    seen = []
    real = lookup._query

    def recording(sql, params):
        seen.append(sql)
        return real(sql, params)

    monkeypatch.setattr(lookup, "_query", recording)
    return seen
