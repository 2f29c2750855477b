"""Property-based tests of the links API against its own OpenAPI schema.

Schemathesis reads /api/schema and sends generated requests, valid and invalid,
to every operation: every answer must be a documented status, content type,
header set and body, and never a 5xx.

The app is called in-process (WSGI). Schemathesis' fixture-based loader, the one
that could aim it at the `gunicorn_server` fixture, does not run under pytest 9.2
(it sets `Item._nodeid`, which pytest no longer has). The requests still pass
through the whole Django stack, middleware included. transactional_db rather
than db: on PostgreSQL one failed query would otherwise abort the test's outer
transaction and turn every later example into a false failure.
"""

import hypothesis
import pytest
import schemathesis
from django.test import Client, override_settings
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import checks as sc

from config.wsgi import application
from links.auth import issue_token
from links.models import Link

# The schema is read as anyone would read public docs (API_DOCS_PUBLIC, off by
# default outside DEBUG: tests/links/test_api_docs.py).
with override_settings(API_DOCS_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi("/api/schema", application)

NEVER_CLICKED, CLICKED = "never-clicked", "clicked"

CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_headers_conformance,
    sc.response_schema_conformance,
    sc.missing_required_header,
    sc.unsupported_method,
    sc.allow_header_conformance,
    sc.ignored_auth,
]
# positive_data_acceptance runs only where the whole input is the path and the
# query string, which a schema can describe completely. With a JSON body it
# cannot: a target must be an absolute http(s) URL with a host, without
# credentials and not on this host; an alias must not be a reserved word in
# any letter case; a new expiry must lie in the future. Schema-valid bodies
# that break these rules are rightly answered 400.
QUERY_ONLY = {
    "links_list",
    "links_retrieve",
    "links_destroy",
    "links_qr_retrieve",
    "links_stats_retrieve",
    "links_export.csv_retrieve",
}
# negative_data_rejection does not run: the API is lenient on purpose where
# the schema is strict. An empty query value counts as absent (page=, days=,
# state=), DRF's BooleanField takes 0, 1, "true", "off" and the like for
# is_active, and bulk's ?atomic= treats anything but 1/true/yes as false.


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Random codes only ever reach 404s: two times in three ask for a link
    # that exists, so that 200 answers are generated and checked too.
    if not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from(
        [
            path_parameters,
            {**path_parameters, "short_code": NEVER_CLICKED},
            {**path_parameters, "short_code": CLICKED},
        ]
    )


@schema.hook
def flatmap_body(context, body):
    # A random string is almost never an acceptable target, which would leave
    # create, update and bulk answering nothing but 400.
    def with_valid_target(item):
        if isinstance(item, dict) and isinstance(item.get("target_url"), str):
            return {**item, "target_url": "https://example.com/fuzzed"}
        return item

    if isinstance(body, list):
        return st.sampled_from([body, [with_valid_target(item) for item in body]])
    return st.sampled_from([body, with_valid_target(body)])


@pytest.fixture
def auth(transactional_db, user, settings):
    settings.RATE_LIMIT_WRITES = ""
    restore_known_links(user)
    Client().get(f"/{CLICKED}")
    _, key = issue_token(user)
    return {"Authorization": f"Token {key}"}


def restore_known_links(owner):
    # An earlier example may have deleted them.
    for code in (NEVER_CLICKED, CLICKED):
        if not Link.objects.filter(short_code=code).exists():
            Link.objects.create_link(
                target_url=f"https://example.com/{code}", short_code=code, owner=owner
            )


@schema.parametrize()
@hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    # One user and their links serve all the examples of an operation.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_answers_generated_requests_as_its_schema_documents(case, user, auth):
    restore_known_links(user)
    checks = list(CHECKS)
    if case.operation.definition.raw["operationId"] in QUERY_ONLY:
        checks.append(sc.positive_data_acceptance)
    case.call_and_validate(headers=auth, checks=checks)


def test_a_never_clicked_link_matches_the_schema(auth):
    case = schema["/api/links/{short_code}/"]["GET"].Case(
        path_parameters={"short_code": NEVER_CLICKED}
    )
    case.call_and_validate(headers=auth, checks=[sc.response_schema_conformance])


@pytest.mark.parametrize(
    ("path", "name", "minimum", "maximum"),
    [
        ("/api/links/", "page_size", 1, None),
        ("/api/links/{short_code}/qr/", "size", 64, 2048),
        ("/api/links/{short_code}/qr/", "border", 0, 16),
        ("/api/links/{short_code}/stats/", "days", 1, 366),
    ],
)
def test_schema_declares_the_bounds_the_server_enforces(path, name, minimum, maximum):
    parameters = schema.raw_schema["paths"][path]["get"]["parameters"]
    declared = next(p["schema"] for p in parameters if p["name"] == name)
    assert declared["minimum"] == minimum
    if maximum is not None:
        assert declared["maximum"] == maximum


def test_searching_for_a_nul_character_is_not_a_server_error(auth):
    # Found by hand, not by the fuzzer: ?q= must be NUL and every other
    # parameter valid, which 20 examples do not reach.
    case = schema["/api/links/"]["GET"].Case(query={"q": "\x00"})
    case.call_and_validate(headers=auth, checks=[sc.not_a_server_error])
