"""Content-Security-Policy in a real browser: every page carries the policy,
and the pages that run the most code (the admin, the Swagger UI, the links UI)
work under it without one violation."""

import re

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model

from links.models import Link

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 9"

# Registered before any page script runs, in every document of the context.
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber} ${event.sample}`
  );
});
"""


@pytest.fixture
def staff(transactional_db, settings):
    # The server checks passwords with the real hashers.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


@pytest.fixture
def watched(page):
    """The page, with every CSP violation and console error it reports."""
    problems = []
    page.context.add_init_script(_LISTEN)

    def on_console(message):
        # Chromium asks every origin for /favicon.ico by itself; TinyLink has
        # none, and that 404 is no page's doing.
        if message.type == "error" and not message.location["url"].endswith(
            "/favicon.ico"
        ):
            problems.append(f"console error: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # The console says "404" without the address; this names it.
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} for {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.problems = problems
    return page


def visit(page, path, ready):
    """Loads `path`, waits for `ready` (a selector), and returns what the page
    reported: CSP violations and console errors."""
    response = page.goto(path)
    assert response.status == 200, path
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy, f"{path}: no enforced policy"
    page.wait_for_selector(ready)
    # Violations are reported asynchronously; a round trip through the
    # event loop lets the pending ones arrive.
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    reported = page.evaluate("() => window.__violations") + page.problems
    page.problems.clear()
    return [f"{path}: {line}" for line in reported]


def sign_in_to_admin(page):
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))


def test_admin_works_under_the_policy(watched, staff):
    link = Link.objects.create(
        short_code="alpha", target_url="https://example.com/a", owner=staff
    )
    sign_in_to_admin(watched)
    found = []
    for path, ready in [
        ("/admin/", "#content-main"),
        ("/admin/links/link/", "#result_list"),
        ("/admin/links/link/add/", "#link_form"),
        (f"/admin/links/link/{link.pk}/change/", "#link_form"),
        ("/admin/links/apitoken/", "#changelist"),
        ("/admin/auth/user/", "#result_list"),
        ("/admin/axes/accessattempt/", "#changelist"),
        ("/admin/opsconsole/opsrun/", "#changelist"),
        ("/admin/opsconsole/opsrun/operations/", "#content-main"),
        ("/admin/opsconsole/opsrun/backups/", "#content-main"),
    ]:
        found += visit(watched, path, ready)
    # The admin's own scripts run: the date shortcuts and the action bar.
    visit(watched, "/admin/links/link/add/", "#link_form")
    assert watched.locator(".datetimeshortcuts").count() > 0
    visit(watched, "/admin/links/link/", "#result_list")
    watched.locator("#action-toggle").check()
    assert watched.locator("span.action-counter").inner_text().startswith("1 of 1")
    found += api_token_created(watched)
    assert found == []


def api_token_created(page):
    """Adds a token through the admin form and clicks the one-time key, which
    selects itself for copying."""
    found = visit(page, "/admin/links/apitoken/add/", "#apitoken_form")
    # The user field is an autocomplete; its options arrive by fetch.
    page.locator("#apitoken_form .select2-selection").click()
    page.locator(".select2-search__field").fill("ro")
    page.locator(".select2-results__option", has_text="root").click()
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#api-key")
    page.locator("#api-key").click()
    key = page.locator("#api-key").input_value()
    # The whole key is selected (by the script; an onclick would be blocked).
    selected = page.evaluate(
        "() => document.activeElement.selectionEnd"
        " - document.activeElement.selectionStart"
    )
    assert selected == len(key) > 0
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    found += [
        f"token page: {line}"
        for line in page.evaluate("() => window.__violations") + page.problems
    ]
    page.problems.clear()
    return found


def test_swagger_ui_works_under_the_policy(watched, staff):
    sign_in_to_admin(watched)
    found = visit(watched, "/api/docs", ".swagger-ui .opblock")
    # The schema was fetched and rendered into operations.
    assert watched.locator(".swagger-ui .opblock").count() > 3
    assert "TinyLink API" in watched.locator(".swagger-ui .info").inner_text()
    assert found == []


def test_links_ui_works_under_the_policy(watched, staff):
    Link.objects.create(
        short_code="alpha", target_url="https://example.com/a", owner=staff
    )
    found = visit(watched, "/", "main")
    found += visit(watched, "/accounts/login/", "form")
    sign_in_to_admin(watched)
    found += visit(watched, "/links/", "main")
    found += visit(watched, "/links/alpha/", "main")
    found += visit(watched, "/links/alpha/edit/", "form")
    assert found == []
