"""Issue 15, item 14 (part): the admin says TinyLink, not Django."""

import re


def _title(response):
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)[1]


def test_item14_admin_index_is_branded_tinylink(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert _title(response) == "Dashboard | TinyLink admin"
    content = response.content.decode()
    assert '<a href="/admin/">TinyLink administration</a>' in content
    assert "Django administration" not in content


def test_item14_admin_login_is_branded_tinylink(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert _title(response) == "Log in | TinyLink admin"
    content = response.content.decode()
    assert '<a href="/admin/">TinyLink administration</a>' in content
    assert "Django administration" not in content
