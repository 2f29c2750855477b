"""Who may see and change which links, through every door: the API, the web UI
and the admin. A user's own links always; anyone else's only with Django's
model permission (links.view_link, change_link, delete_link) or as superuser.
The staff flag opens the admin and grants nothing else."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from rest_framework.test import APIClient

from links.models import Link
from tests.links.admin_helpers import CHANGELIST, add_form_data, change_url
from tests.links.api_helpers import assert_envelope, make

PHISHING = "https://phish.example/login"
ORIGINAL = "https://example.com/theirs"


def staff_with(username, *codenames, via_group=False):
    staff = get_user_model().objects.create_user(
        username, password="pw-staff-1", is_staff=True
    )
    permissions = Permission.objects.filter(
        content_type__app_label="links", codename__in=codenames
    )
    assert permissions.count() == len(codenames)
    if via_group:
        group = Group.objects.create(name=f"{username}-group")
        group.permissions.set(permissions)
        staff.groups.add(group)
    else:
        staff.user_permissions.set(permissions)
    return staff


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def theirs(other_user):
    return make("theirs", other_user, target_url=ORIGINAL)


@pytest.fixture
def staff(db):
    """Staff without a single permission: the attacker of issue 12."""
    return staff_with("eve")


def redirects_to(client, code):
    response = client.get(f"/{code}")
    assert response.status_code == 302
    return response["Location"]


# --- the API -----------------------------------------------------------------------


def test_staff_without_permissions_cannot_repoint_another_users_link_in_the_api(
    staff, theirs, client
):
    response = api_as(staff).patch(
        "/api/links/theirs", {"target_url": PHISHING}, format="json"
    )
    assert_envelope(response, 404, "not_found")
    assert redirects_to(client, "theirs") == ORIGINAL


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/links/theirs"),
        ("put", "/api/links/theirs"),
        ("delete", "/api/links/theirs"),
        ("get", "/api/links/theirs/qr"),
        ("get", "/api/links/theirs/stats"),
    ],
)
def test_staff_without_permissions_find_no_other_users_link_in_the_api(
    staff, theirs, method, path
):
    response = getattr(api_as(staff), method)(
        path, {"target_url": PHISHING}, format="json"
    )
    assert_envelope(response, 404, "not_found")
    assert Link.objects.get(short_code="theirs").target_url == ORIGINAL


def test_staff_without_permissions_list_and_export_only_their_own_links(staff, theirs):
    make("mine", staff)
    api = api_as(staff)
    listed = {r["short_code"] for r in api.get("/api/links").json()["results"]}
    assert listed == {"mine"}
    export = b"".join(api.get("/api/links/export.csv").streaming_content).decode()
    assert "mine" in export
    assert "theirs" not in export


def test_view_permission_shows_every_link_but_changes_none_in_the_api(theirs):
    viewer = api_as(staff_with("viewer", "view_link"))
    listed = {r["short_code"] for r in viewer.get("/api/links").json()["results"]}
    assert listed == {"theirs"}
    assert viewer.get("/api/links/theirs/stats").status_code == 200
    patch = viewer.patch("/api/links/theirs", {"target_url": PHISHING}, format="json")
    assert_envelope(patch, 404, "not_found")
    assert_envelope(viewer.delete("/api/links/theirs"), 404, "not_found")
    assert Link.objects.get(short_code="theirs").target_url == ORIGINAL


@pytest.mark.parametrize("via_group", [False, True])
def test_change_permission_changes_any_link_in_the_api(theirs, via_group):
    editor = api_as(staff_with("editor", "change_link", via_group=via_group))
    response = editor.patch("/api/links/theirs", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "inactive"
    assert_envelope(editor.delete("/api/links/theirs"), 404, "not_found")


def test_delete_permission_deletes_any_link_in_the_api(theirs):
    remover = api_as(staff_with("remover", "delete_link"))
    assert remover.delete("/api/links/theirs").status_code == 204
    assert not Link.objects.filter(short_code="theirs").exists()


def test_a_superuser_sees_and_changes_every_link_in_the_api(theirs):
    root = get_user_model().objects.create_superuser("root", password="pw-root-1")
    response = api_as(root).patch(
        "/api/links/theirs", {"is_active": False}, format="json"
    )
    assert response.status_code == 200


# --- the web UI -----------------------------------------------------------------


def test_staff_without_permissions_cannot_edit_another_users_link_in_the_ui(
    staff, theirs, client
):
    client.force_login(staff)
    for path in ("/links/theirs/", "/links/theirs/edit/", "/links/theirs/delete/"):
        assert client.get(path).status_code == 404, path
    edit = client.post(
        "/links/theirs/edit/", {"target_url": PHISHING, "is_active": "on"}
    )
    assert edit.status_code == 404
    assert client.post("/links/theirs/delete/").status_code == 404
    client.logout()
    assert redirects_to(client, "theirs") == ORIGINAL


def test_view_permission_opens_the_detail_page_but_not_edit_or_delete(theirs, client):
    client.force_login(staff_with("viewer", "view_link"))
    detail = client.get("/links/theirs/")
    assert detail.status_code == 200
    assert b"/links/theirs/edit/" not in detail.content
    assert client.get("/links/theirs/edit/").status_code == 404
    assert client.post("/links/theirs/delete/").status_code == 404
    assert Link.objects.filter(short_code="theirs").exists()


def test_change_permission_edits_another_users_link_in_the_ui(theirs, client):
    client.force_login(staff_with("editor", "view_link", "change_link"))
    response = client.post(
        "/links/theirs/edit/", {"target_url": "https://example.org/", "is_active": ""}
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.target_url, theirs.is_active) == ("https://example.org/", False)


# --- the admin --------------------------------------------------------------------


def test_staff_without_permissions_see_only_their_own_links_in_the_admin(
    staff, theirs, client
):
    make("mine", staff)
    client.force_login(staff)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert [link.short_code for link in response.context["cl"].result_list] == ["mine"]


def test_staff_without_permissions_cannot_reach_another_users_link_in_the_admin(
    staff, theirs, client
):
    client.force_login(staff)
    url = change_url(theirs)
    # The admin's "not found": back to the index with "doesn't exist".
    assert client.get(url)["Location"] == "/admin/"
    posted = client.post(url, add_form_data(short_code="theirs", target_url=PHISHING))
    assert posted["Location"] == "/admin/"
    theirs.refresh_from_db()
    assert theirs.target_url == ORIGINAL


def test_staff_without_permissions_change_their_own_link_in_the_admin(staff, client):
    mine = make("mine", staff)
    client.force_login(staff)
    data = add_form_data(target_url="https://example.org/new")
    del data["short_code"]
    response = client.post(change_url(mine), data)
    assert response.status_code == 302, response.content
    mine.refresh_from_db()
    assert (mine.target_url, mine.owner) == ("https://example.org/new", staff)


def test_staff_cannot_hand_links_to_another_owner_without_change_permission(
    theirs, client
):
    clerk = staff_with("clerk", "add_link")
    client.force_login(clerk)
    response = client.post(
        "/admin/links/link/add/", add_form_data(owner=theirs.owner.pk)
    )
    assert response.status_code == 302, response.content
    assert Link.objects.get(short_code="fresh").owner == clerk


@pytest.mark.parametrize(
    ("perms", "action"),
    [
        ((), "deactivate"),
        (("view_link",), "deactivate"),
        (("view_link",), "extend_expiry_7_days"),
        (("view_link", "change_link"), "delete_selected"),
    ],
)
def test_admin_actions_leave_links_the_user_may_not_change_alone(
    other_user, client, perms, action
):
    expires_at = timezone.now() + timedelta(days=1)
    theirs = make("theirs", other_user, expires_at=expires_at)
    actor = staff_with("actor", *perms)
    mine = make("mine", actor)
    client.force_login(actor)
    client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [mine.pk, theirs.pk], "post": "yes"},
    )
    theirs.refresh_from_db()
    assert (theirs.is_active, theirs.expires_at) == (True, expires_at)


def test_view_permission_shows_another_users_link_read_only_in_the_admin(
    theirs, client
):
    client.force_login(staff_with("viewer", "view_link"))
    url = change_url(theirs)
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="target_url"' not in page.content
    assert client.post(url, add_form_data(target_url=PHISHING)).status_code == 403
    theirs.refresh_from_db()
    assert theirs.target_url == ORIGINAL


def test_the_owner_filter_names_no_one_to_staff_who_see_only_their_own_links(
    staff, theirs, client
):
    client.force_login(staff)
    response = client.get(f"{CHANGELIST}?owner={theirs.owner.pk}")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert theirs.owner.username not in response.content.decode()
