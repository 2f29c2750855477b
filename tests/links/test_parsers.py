"""links.parsers: JSON bodies too deeply nested are a 400, never a 500.

Python's json module recurses once per level and raises RecursionError near
1,000 levels; the API's parser turns that, and any nesting deeper than a link
can need, into the JSON envelope.
"""

import json

import pytest
import schemathesis
from django.test import override_settings
from schemathesis import checks as sc

from config.wsgi import application
from links.auth import issue_token
from links.models import Link
from links.parsers import MAX_NESTING
from tests.links.api_helpers import assert_envelope, make
from tests.servers import http_request

DEPTH = 10_000
NESTED_LISTS = "[" * DEPTH + "]" * DEPTH
NESTED_OBJECTS = '{"a": ' * DEPTH + "1" + "}" * DEPTH
# Deep inside an otherwise ordinary body, where a parser that only looks at
# the outer shape would let it through.
NESTED_IN_A_FIELD = '{"target_url": ' + NESTED_LISTS + "}"
NESTED_IN_BULK = "[" + NESTED_IN_A_FIELD + "]"
BODIES = {
    "lists": NESTED_LISTS,
    "objects": NESTED_OBJECTS,
    "in-a-field": NESTED_IN_A_FIELD,
    "in-bulk": NESTED_IN_BULK,
}
# Every operation that reads a JSON body, with and without the trailing slash.
OPERATIONS = [
    ("post", "/api/links"),
    ("post", "/api/links/"),
    ("put", "/api/links/mine"),
    ("patch", "/api/links/mine/"),
    ("post", "/api/links/bulk"),
    ("post", "/api/links/bulk/?atomic=true"),
]

pytestmark = pytest.mark.usefixtures("_no_rate_limits")


@pytest.fixture
def mine(user):
    return make("mine", user)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_deeply_nested_json_is_a_400_envelope(api, mine, method, path, body):
    response = getattr(api, method)(path, body, content_type="application/json")
    error = assert_envelope(response, 400, "validation_error")
    assert "nested" in error["message"]
    assert Link.objects.count() == 1
    mine.refresh_from_db()
    assert mine.target_url == "https://example.com/mine"


@pytest.mark.parametrize("lists", [MAX_NESTING, 500, 900])
def test_nesting_past_the_limit_is_refused_below_python_s_own(api, db, lists):
    # 900 levels already overflow inside Django's call stack; 500 parse, but
    # nothing a link needs is that deep.
    body = '{"target_url": ' + "[" * lists + "]" * lists + "}"
    response = api.post("/api/links", body, content_type="application/json")
    error = assert_envelope(response, 400, "validation_error")
    assert "nested" in error["message"]


def test_the_nesting_a_bulk_request_needs_is_accepted(api, db):
    body = json.dumps([{"target_url": "https://example.com/a"}])
    response = api.post("/api/links/bulk", body, content_type="application/json")
    assert response.status_code == 207
    assert Link.objects.get().target_url == "https://example.com/a"


def test_a_field_nested_within_the_limit_is_an_ordinary_field_error(api, db):
    # The object is the first level, its lists the other MAX_NESTING - 1.
    lists = MAX_NESTING - 1
    body = '{"target_url": ' + "[" * lists + "]" * lists + "}"
    response = api.post("/api/links", body, content_type="application/json")
    error = assert_envelope(response, 400, "validation_error")
    assert list(error["details"]) == ["target_url"]


# --- through the OpenAPI schema: every operation that documents a JSON body --

# Read as public docs are (API_DOCS_PUBLIC is off by default, DEBUG off).
with override_settings(API_DOCS_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi("/api/schema", application)
JSON_BODY_OPERATIONS = [
    (path, method.upper())
    for path, item in schema.raw_schema["paths"].items()
    for method, operation in item.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]


def test_the_schema_lists_the_operations_tested_above():
    assert sorted(JSON_BODY_OPERATIONS) == [
        ("/api/links/", "POST"),
        ("/api/links/bulk/", "POST"),
        ("/api/links/{short_code}/", "PATCH"),
        ("/api/links/{short_code}/", "PUT"),
    ]


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(("path", "method"), JSON_BODY_OPERATIONS)
def test_schema_operations_answer_deep_json_as_documented(
    transactional_db, user, mine, path, method, body
):
    _, key = issue_token(user)
    case = schema[path][method].Case(
        path_parameters={"short_code": "mine"} if "{short_code}" in path else {},
        headers={"Content-Type": "application/json"},
    )
    response = case.call(
        headers={"Authorization": f"Token {key}"},
        data=body.encode(),
    )
    case.validate_response(
        response,
        checks=[
            sc.not_a_server_error,
            sc.status_code_conformance,
            sc.content_type_conformance,
            sc.response_schema_conformance,
        ],
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


# --- the production entry point ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/api/links", "/api/links/bulk"])
def test_gunicorn_answers_deep_json_with_a_400(gunicorn_server, user, path):
    _, key = issue_token(user)
    status, headers, body = http_request(
        gunicorn_server.url + path,
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        data=NESTED_LISTS.encode(),
    )
    assert status == 400, body[:500]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "validation_error"
