"""The TinyLink+ flows from the outside: the real gunicorn (`make serve`), a token
made by the real `create_api_token` command, and plain HTTP with urllib.

One server serves the whole module (see `gunicorn_server`). The tests call the
command in-process, which prints the same key a shell would show; one test runs
it as an operator does, in a process of its own."""

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from tests.servers import ROOT, database_url, http_request, poll

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

pytestmark = pytest.mark.slow


@dataclass
class Answer:
    status: int
    headers: object
    body: bytes

    def json(self):
        return json.loads(self.body)


class Api:
    """The links API of one running server, as one token holder sees it."""

    def __init__(self, server, token=None):
        self.server = server
        self.token = token

    def __call__(self, method, path, body=None):
        headers = {"Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Token {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.server.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def create(self, **fields):
        answer = self("POST", "/api/links", fields)
        assert answer.status == 201, answer.body
        return answer.json()

    def follow(self, code, accept=BROWSER):
        return http_request(f"{self.server.url}/{code}", headers={"Accept": accept})


def create_api_token(username):
    """The last line of `manage.py create_api_token`."""
    out = io.StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def create_api_token_in_a_shell(username):
    """The last line of `manage.py create_api_token`, run as an operator would."""
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", username],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def api(gunicorn_server, user):
    return Api(gunicorn_server, create_api_token(user.username))


def test_a_token_made_on_the_command_line_works_against_the_server(
    gunicorn_server, user
):
    api = Api(gunicorn_server, create_api_token_in_a_shell(user.username))
    answer = api("GET", "/api/links")
    assert answer.status == 200, answer.body
    assert answer.json()["count"] == 0


def in_a_day():
    return timezone.now() + timedelta(days=1)


def test_create_answers_201_with_the_link(api):
    expires = in_a_day()
    link = api.create(
        target_url="https://example.com/docs",
        short_code="docs2",
        expires_at=expires.isoformat(),
        max_clicks=100,
    )
    assert link["short_code"] == "docs2"
    assert link["short_url"] == f"{api.server.url}/docs2"
    assert link["target_url"] == "https://example.com/docs"
    assert datetime.fromisoformat(link["expires_at"]) == expires
    assert link["max_clicks"] == 100
    assert (link["click_count"], link["last_access_at"]) == (0, None)
    assert link["state"] == "active"
    assert link["qr_url"] == f"{api.server.url}/api/links/docs2/qr"


def test_create_without_a_code_generates_seven_characters(api):
    link = api.create(target_url="https://example.com/")
    assert len(link["short_code"]) == 7
    assert api.follow(link["short_code"])[0] == 302


def test_invalid_create_answers_400_envelope_with_a_message_per_field(api):
    answer = api(
        "POST",
        "/api/links",
        {"target_url": "javascript:alert(1)", "short_code": "Admin", "max_clicks": 0},
    )
    assert answer.status == 400
    assert "no-store" in answer.headers["Cache-Control"]
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"]
    assert set(error["details"]) == {"target_url", "short_code", "max_clicks"}
    assert all(
        isinstance(messages, list) and messages
        for messages in error["details"].values()
    )
    assert "javascript" in error["details"]["target_url"][0]
    assert api("GET", "/api/links").json()["count"] == 0


def test_taken_code_answers_409_envelope(api):
    api.create(target_url="https://example.com/a", short_code="same")
    answer = api(
        "POST",
        "/api/links",
        {"target_url": "https://example.com/b", "short_code": "same"},
    )
    assert answer.status == 409
    assert answer.json()["error"]["code"] == "conflict"
    assert set(answer.json()["error"]["details"]) == {"short_code"}


def test_list_and_detail_show_the_created_links(api):
    first = api.create(target_url="https://example.com/1", short_code="one")
    second = api.create(target_url="https://example.com/2", short_code="two")
    listed = api("GET", "/api/links")
    assert listed.status == 200
    page = listed.json()
    assert page["count"] == 2
    assert [link["short_code"] for link in page["results"]] == ["two", "one"]
    detail = api("GET", "/api/links/one")
    assert detail.status == 200
    assert detail.json() == first
    assert api("GET", "/api/links/two/").json() == second


def test_put_changes_target_and_expiry_and_null_clears_the_expiry(api):
    api.create(target_url="https://example.com/old", short_code="moving")
    expires = in_a_day()
    changed = api(
        "PUT",
        "/api/links/moving",
        {"target_url": "https://example.com/new", "expires_at": expires.isoformat()},
    )
    assert changed.status == 200
    assert changed.json()["target_url"] == "https://example.com/new"
    assert datetime.fromisoformat(changed.json()["expires_at"]) == expires

    cleared = api("PUT", "/api/links/moving", {"expires_at": None})
    assert cleared.status == 200
    assert cleared.json()["expires_at"] is None
    assert cleared.json()["target_url"] == "https://example.com/new"
    assert api("GET", "/api/links/moving").json()["expires_at"] is None
    status, headers, _ = api.follow("moving")
    assert (status, headers["Location"]) == (302, "https://example.com/new")


def test_deleted_link_is_404_in_detail_redirect_and_qr(api):
    api.create(target_url="https://example.com/gone", short_code="brief")
    deleted = api("DELETE", "/api/links/brief")
    assert (deleted.status, deleted.body) == (204, b"")

    detail = api("GET", "/api/links/brief")
    assert detail.status == 404
    assert detail.json()["error"]["code"] == "not_found"
    assert api.follow("brief")[0] == 404
    status, _, body = api.follow("brief", accept="application/json")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    assert api("GET", "/api/links/brief/qr").status == 404
    assert api("DELETE", "/api/links/brief").status == 404


def test_redirect_counts_the_click_and_sets_last_access_at(api):
    api.create(target_url="https://example.com/landing?x=1", short_code="count")
    before = timezone.now()
    status, headers, _ = api.follow("count")
    after = timezone.now()
    assert status == 302
    assert headers["Location"] == "https://example.com/landing?x=1"

    # Clicks are written within CLICK_FLUSH_SECONDS of the redirect.
    def count():
        return api("GET", "/api/links/count").json()["click_count"]

    assert poll(count, 1) == 1
    link = api("GET", "/api/links/count").json()
    assert before <= datetime.fromisoformat(link["last_access_at"]) <= after
    api.follow("count")
    assert poll(count, 2) == 2


def test_qr_code_is_a_png_of_the_requested_size(api):
    api.create(target_url="https://example.com/print", short_code="poster")
    for size in (64, 300):
        answer = api("GET", f"/api/links/poster/qr?size={size}")
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(answer.body))
        assert image.format == "PNG"
        assert image.size == (size, size)


def test_link_expired_by_patch_answers_410_page_or_envelope(api):
    api.create(
        target_url="https://example.com/offer",
        short_code="offer",
        expires_at=in_a_day().isoformat(),
    )
    expired_at = timezone.now() - timedelta(minutes=1)
    patched = api("PATCH", "/api/links/offer", {"expires_at": expired_at.isoformat()})
    assert patched.status == 200
    assert patched.json()["state"] == "expired"

    status, headers, body = api.follow("offer")
    assert status == 410
    assert headers["Content-Type"].startswith("text/html")
    assert b"expired" in body

    status, headers, body = api.follow("offer", accept="application/json")
    assert status == 410
    assert headers["Content-Type"] == "application/json"
    assert "no-store" in headers["Cache-Control"]
    error = json.loads(body)["error"]
    assert error["code"] == "gone"
    assert error["details"]["state"] == "expired"
    assert datetime.fromisoformat(error["details"]["expired_at"]) == expired_at
    assert api("GET", "/api/links/offer").json()["click_count"] == 0


def test_requests_without_a_valid_token_answer_401_envelope(api):
    api.create(target_url="https://example.com/private", short_code="mine")
    for token, message in [
        (None, "Authentication credentials were not provided."),
        ("tl_not-a-real-token", "Invalid, expired or revoked token."),
        ("two words", "Send the header as 'Authorization: Token <key>'."),
    ]:
        for path in ("/api/links", "/api/links/mine"):
            answer = Api(api.server, token)("GET", path)
            assert answer.status == 401, (token, path)
            assert answer.headers["WWW-Authenticate"] == "Token"
            assert "no-store" in answer.headers["Cache-Control"]
            error = answer.json()["error"]
            assert (error["code"], error["message"]) == ("not_authenticated", message)
