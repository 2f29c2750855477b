"""Content-Security-Policy (django-csp): every page carries it, it allows no
inline script or style, and no page of ours or of the admin relies on one.
tests/browser/test_csp.py shows the same pages working in Chromium."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from links.models import Link

ROOT = Path(__file__).resolve().parent.parent


def directives(response):
    policy = response.headers.get("Content-Security-Policy", "")
    parsed = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            parsed[name] = values
    return parsed


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' blocks: script and style
    elements with a body, event-handler and style attributes, javascript:
    URLs."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        # A JSON data block (json_script) is never run, so it is allowed.
        runs = attributes.get("type") != "application/json"
        if (tag == "script" and "src" not in attributes and runs) or tag == "style":
            self._open = tag
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data):
        if self._open and data.strip():
            self.found.append(f"<{self._open}>{data.strip()[:60]}")

    def handle_endtag(self, tag):
        self._open = None


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("root", password="pw-root-1")


@pytest.fixture
def pages(staff):
    link = Link.objects.create(
        short_code="alpha", target_url="https://example.com/a", owner=staff
    )
    paths = [
        "/links/",
        "/links/alpha/",
        "/links/alpha/edit/",
        "/links/alpha/delete/",
        "/accounts/password_change/",
        "/api/docs",
        "/admin/",
        "/admin/opsconsole/opsrun/operations/",
        "/admin/opsconsole/opsrun/backups/",
        f"/admin/links/link/{link.pk}/change/",
    ]
    # Every model in the admin: its list and its add form.
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths.append(reverse(f"{name}_changelist"))
        paths.append(reverse(f"{name}_add"))
    return paths


def test_every_page_carries_a_policy_without_inline_code(client, staff, pages):
    client.force_login(staff)
    checked = 0
    for path in pages:
        response = client.get(path)
        if response.status_code == 403:  # an admin that adds nothing by hand
            continue
        assert response.status_code == 200, path
        policy = directives(response)
        assert policy.get("default-src") == ["'self'"], path
        assert inline_code(response.content.decode()) == [], path
        checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/accounts/login/", 200),
        ("/admin/login/", 200),
        ("/nowhere/at/all/", 404),
        ("/links/", 302),
    ],
)
def test_anonymous_pages_and_errors_carry_the_policy(client, db, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert directives(response).get("default-src") == ["'self'"]
    assert inline_code(response.content.decode()) == []


def test_the_policy_allows_no_inline_or_foreign_code(client, db):
    policy = directives(client.get("/"))
    # script-src and style-src are not set: they fall back to default-src.
    for name in ("script-src", "style-src"):
        assert policy.get(name, policy.get("default-src")) == ["'self'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("base-uri") == ["'none'"]
    assert policy.get("frame-ancestors") == ["'none'"]
    assert policy.get("form-action") == ["'self'"]
    joined = " ".join(value for values in policy.values() for value in values)
    assert "unsafe" not in joined
    assert "*" not in joined


def test_swagger_ui_loads_its_start_up_script_as_a_file(client, staff):
    client.force_login(staff)
    page = client.get("/api/docs").content.decode()
    script = re.search(r'<script src="([^"]*script=[^"]*)"', page)
    assert script, page
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in response.content


def test_no_template_has_inline_script_or_style():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if (found := inline_code(path.read_text()))
    }
    assert offenders == {}
