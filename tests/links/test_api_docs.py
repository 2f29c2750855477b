"""Who may read the API's documentation (/api/docs) and schema (/api/schema):
anyone with API_DOCS_PUBLIC on, only staff with it off; off by default unless
DEBUG is on."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from links.auth import issue_token
from tests.links.api_helpers import assert_envelope
from tests.test_settings import manage

DOCS = ["/api/docs", "/api/docs/", "/api/schema", "/api/schema/"]


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("ops", is_staff=True)


@pytest.mark.parametrize("path", DOCS)
def test_private_docs_answer_401_to_anonymous_clients(client, db, settings, path):
    settings.API_DOCS_PUBLIC = False
    response = client.get(path)
    error = assert_envelope(response, 401, "not_authenticated")
    assert "openapi" not in response.content.decode()
    assert error["message"]


@pytest.mark.parametrize("path", DOCS)
def test_private_docs_answer_403_to_signed_in_non_staff(client, user, settings, path):
    settings.API_DOCS_PUBLIC = False
    client.force_login(user)
    assert_envelope(client.get(path), 403, "permission_denied")


def test_private_docs_answer_403_to_a_non_staff_token(user, settings):
    settings.API_DOCS_PUBLIC = False
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    assert_envelope(api.get("/api/schema"), 403, "permission_denied")


def test_private_docs_are_served_to_staff(client, staff, settings):
    settings.API_DOCS_PUBLIC = False
    client.force_login(staff)
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/schema")
    assert schema.status_code == 200
    assert b"openapi" in schema.content


@pytest.mark.parametrize("path", DOCS)
def test_public_docs_are_served_to_anyone(client, db, settings, path):
    settings.API_DOCS_PUBLIC = True
    assert client.get(path).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DJANGO_DEBUG": "false"}, "False"),
        ({"DJANGO_DEBUG": "true"}, "True"),
        ({"DJANGO_DEBUG": "false", "API_DOCS_PUBLIC": "true"}, "True"),
        ({"DJANGO_DEBUG": "true", "API_DOCS_PUBLIC": "false"}, "False"),
    ],
)
def test_docs_are_public_by_default_only_in_debug(tmp_path, env, expected):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.API_DOCS_PUBLIC)",
        env={
            "SECRET_KEY": "test-" + "k" * 50,
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            **env,
        },
    )
    assert result.stdout.split() == [expected], result.stderr
