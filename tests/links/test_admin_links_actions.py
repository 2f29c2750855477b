import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from links import admin as links_admin
from links.exports import EXPORT_HEADER
from links.models import Link
from tests.links.admin_helpers import (
    make_link,
    run_action,
)

pytestmark = pytest.mark.usefixtures("_fresh_summary")


def test_delete_action_asks_for_confirmation_within_the_limit(
    admin_client, db, monkeypatch
):
    monkeypatch.setattr(links_admin, "BULK_DELETE_LIMIT", 2)
    first, second = make_link("one"), make_link("two")
    response = run_action(admin_client, "delete_selected", [first, second])
    assert response.status_code == 200
    assert "<title>Delete multiple objects" in response.text
    response = run_action(admin_client, "delete_selected", [first, second], post="yes")
    assert response.status_code == 302
    assert not Link.objects.exists()


def test_delete_action_refuses_more_links_than_the_limit(admin_client, db, monkeypatch):
    monkeypatch.setattr(links_admin, "BULK_DELETE_LIMIT", 2)
    links = [make_link("one"), make_link("two"), make_link("three")]
    response = run_action(admin_client, "delete_selected", links)
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Delete at most 2 links at a time; narrow the selection with a filter "
        "or a search first."
    ]
    assert Link.objects.count() == 3


def test_deactivate_and_activate_actions(admin_client, db):
    first, second, untouched = make_link("one"), make_link("two"), make_link("three")
    response = run_action(admin_client, "deactivate", [first, second])
    assert response.status_code == 302
    assert list(Link.objects.inactive().order_by("short_code")) == [first, second]
    run_action(admin_client, "activate", [first])
    assert list(Link.objects.inactive()) == [second]
    untouched.refresh_from_db()
    assert untouched.is_active


def test_deactivate_reports_how_many_links_changed(admin_client, db):
    active, inactive = make_link("one"), make_link("two", is_active=False)
    response = run_action(admin_client, "deactivate", [active, inactive])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Deactivated 1 link(s)."]


@pytest.mark.parametrize(
    ("action", "days"),
    [("extend_expiry_7_days", 7), ("extend_expiry_30_days", 30)],
)
def test_extend_expiry_adds_days_to_a_running_expiry(admin_client, db, action, days):
    expires = timezone.now() + timedelta(days=2)
    link = make_link("running", expires_at=expires)
    run_action(admin_client, action, [link])
    link.refresh_from_db()
    assert link.expires_at == expires + timedelta(days=days)


@pytest.mark.parametrize(
    ("action", "days"),
    [("extend_expiry_7_days", 7), ("extend_expiry_30_days", 30)],
)
def test_extend_expiry_of_an_expired_link_counts_from_now(
    admin_client, db, action, days
):
    link = make_link("gone", expires_at=timezone.now() - timedelta(days=100))
    before = timezone.now()
    run_action(admin_client, action, [link])
    after = timezone.now()
    link.refresh_from_db()
    assert before + timedelta(days=days) <= link.expires_at
    assert link.expires_at <= after + timedelta(days=days)
    assert not link.is_expired()


def test_extend_expiry_leaves_links_without_expiry_unchanged(admin_client, db):
    forever = make_link("forever")
    run_action(admin_client, "extend_expiry_7_days", [forever])
    forever.refresh_from_db()
    assert forever.expires_at is None


def test_export_csv_streams_exactly_the_selected_links(admin_client, db):
    created = timezone.now().replace(microsecond=0)
    chosen = make_link(
        "chosen",
        target_url="https://example.com/=sum",
        created_at=created,
        click_count=7,
    )
    also = make_link("also")
    make_link("notme")
    response = run_action(admin_client, "export_csv", [chosen, also])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == ["chosen", "also"]
    assert rows[1] == [
        "chosen",
        "http://testserver/chosen",
        "https://example.com/=sum",
        created.isoformat(),
        "",
        "",
        "7",
        "",
        "true",
    ]


# --- the change page -----------------------------------------------------------
