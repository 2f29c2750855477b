"""Shared constants and helpers for the rate limit tests."""

from rest_framework.test import APIClient

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
REDIS_URL = "redis://127.0.0.1:6379/15"

# The start of a window for every unit (divisible by a day), so that windows
# in the tests below never straddle a boundary by accident.
T0 = 1_728_000_000.0
# Requests through the stack happen 30 seconds into a minute: a minute limit
# then always asks to wait exactly 30 seconds.
NOW = T0 + 30


class Clock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


def use_up_redirects(client, **extra):
    for _ in range(3):
        assert client.get("/go", **extra).status_code == 302


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def create(api, n, **extra):
    return api.post(
        "/api/links",
        {"target_url": f"https://example.com/{n}"},
        format="json",
        **extra,
    )


def assert_throttled(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["details"] == {"retry_after": 30}
    assert response["Retry-After"] == "30"
