"""Rate limits on API writes, through the whole stack."""

import pytest

from links.models import Link
from tests.links.ratelimit_helpers import (
    api_for,
    assert_throttled,
    create,
)

pytestmark = pytest.mark.usefixtures("_clean_counters", "clock", "_no_trusted_proxies")


@pytest.fixture
def two_writes_per_minute(settings):
    settings.RATE_LIMIT_WRITES = "2/minute"


def test_third_api_write_in_a_minute_is_throttled(user, two_writes_per_minute):
    api = api_for(user)
    assert create(api, 1).status_code == 201
    assert create(api, 2).status_code == 201
    assert_throttled(create(api, 3))
    assert Link.objects.count() == 2


def test_api_reads_are_not_limited(user, two_writes_per_minute):
    api = api_for(user)
    create(api, 1)
    create(api, 2)
    assert_throttled(create(api, 3))
    for _ in range(5):
        response = api.get("/api/links")
        assert response.status_code == 200
    assert response.json()["count"] == 2


def test_updates_and_deletes_share_the_write_limit(user, two_writes_per_minute):
    api = api_for(user)
    code = create(api, 1).json()["short_code"]
    patched = api.patch(f"/api/links/{code}", {"is_active": False}, format="json")
    assert patched.status_code == 200
    assert_throttled(api.delete(f"/api/links/{code}"))
    assert Link.objects.filter(short_code=code).exists()


def test_write_limit_follows_the_user_across_addresses(user, two_writes_per_minute):
    api = api_for(user)
    assert create(api, 1, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert create(api, 2, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert_throttled(create(api, 3, REMOTE_ADDR="198.51.100.20"))


def test_write_limit_follows_the_address_across_users(
    user, other_user, two_writes_per_minute
):
    assert create(api_for(user), 1, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert create(api_for(user), 2, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert_throttled(create(api_for(other_user), 3, REMOTE_ADDR="192.0.2.10"))
    # The same other user from an unspent address is welcome.
    other = create(api_for(other_user), 4, REMOTE_ADDR="198.51.100.20")
    assert other.status_code == 201


def test_api_writes_are_not_limited_without_a_rate(user, settings):
    settings.RATE_LIMIT_WRITES = ""
    api = api_for(user)
    assert [create(api, n).status_code for n in range(5)] == [201] * 5


# --- Redis ------------------------------------------------------------------
