"""Browser tests: Debian's Chromium driven by Playwright, never a downloaded
browser. Without Chromium the tests skip loudly; with CI=true that fails."""

import os
import shutil
from pathlib import Path

import pytest

from tests.servers import GunicornServer

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _chromium_missing_reason():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _chromium_missing_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and browser tests cannot run: {reason}")
        pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on the main thread; the ORM
    # calls the tests make between page actions are still synchronous code.
    # Only for as long as the browser runs: subprocesses started by other
    # tests (manage.py check --deploy) must not inherit it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                # Stand-ins for outside sites listen on loopback, which link
                # targets may not name (links.targets): the reserved .test
                # names reach them in this browser only.
                "--host-resolver-rules=MAP *.test 127.0.0.1",
            ],
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page")
        if page is not None:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            path = ARTIFACTS / f"{item.name}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                report.sections.append(("screenshot", str(path)))
            except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
                report.sections.append(("screenshot", f"could not save: {exc}"))
    return report


@pytest.fixture(scope="module")
def ui_server(django_db_setup, tmp_path_factory):
    """The real gunicorn entry point, one for a module's tests (started after
    django_db_setup, so it serves the test database); one worker with threads
    starts fastest, and a browser session needs no more. Each test has a
    fresh browser context, so no session cookie carries over."""
    server = GunicornServer(tmp_path_factory.mktemp("ui"), workers=1, threads=8)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser, ui_server, transactional_db):
    # transactional_db: what the server wrote is flushed after the test.
    context = browser.new_context(
        base_url=ui_server.url, viewport={"width": 1280, "height": 900}
    )
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=ui_server.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
