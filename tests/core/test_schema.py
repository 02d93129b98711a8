"""The OpenAPI schema, the offline docs pages, and a schemathesis run over every operation."""

import json
import re
import zlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis_jsonschema import from_schema
from schemathesis.specs.openapi import checks as openapi_checks

from achievements.accounts import integration_account_ensure
from achievements.models import Achievement
from users.models import User

# Every operation the SPEC lists for users, achievements, awards and events.
OPERATIONS = {
    ("/api/v1/users/", "get"),
    ("/api/v1/users/", "post"),
    ("/api/v1/users/{username}/", "get"),
    ("/api/v1/users/{username}/", "patch"),
    ("/api/v1/users/{username}/", "delete"),
    ("/api/v1/achievements/", "get"),
    ("/api/v1/achievements/", "post"),
    ("/api/v1/achievements/{code}/", "get"),
    ("/api/v1/achievements/{code}/", "patch"),
    ("/api/v1/achievements/{code}/", "delete"),
    ("/api/v1/users/{username}/achievements/", "get"),
    ("/api/v1/users/{username}/achievements/", "post"),
    ("/api/v1/users/{username}/achievements/{code}/", "delete"),
    ("/api/v1/events/", "post"),
    ("/api/v1/users/{username}/events/", "get"),
}
WRITES = {op for op in OPERATIONS if op[1] != "get"}


# --- the schema -----------------------------------------------------------------------------


def test_the_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "openapi: 3" in target.read_text()


@pytest.fixture
def openapi(anonymous) -> dict:
    response = anonymous.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_served_at_api_schema(anonymous):
    response = anonymous.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"/api/v1/users/" in response.content


def test_the_schema_documents_every_operation_of_the_spec(openapi):
    documented = {
        (path, method)
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }

    assert documented >= OPERATIONS


def test_every_write_documents_its_body_and_its_auth_errors(openapi):
    for path, method in WRITES:
        operation = openapi["paths"][path][method]
        responses = set(operation["responses"])
        assert {"401", "403"} <= responses, (path, method)
        assert {"tokenAuth": []} in operation["security"], (path, method)
        if method in {"post", "patch"}:
            assert "requestBody" in operation, (path, method)
            assert "400" in responses, (path, method)


def test_lookups_document_their_404(openapi):
    for path, method in OPERATIONS:
        if "{" in path:
            assert "404" in openapi["paths"][path][method]["responses"], (path, method)


def test_a_protected_delete_documents_its_409(openapi):
    assert "409" in openapi["paths"]["/api/v1/achievements/{code}/"]["delete"]["responses"]


def test_catalog_operations_document_the_lang_parameter(openapi):
    for path, method in OPERATIONS:
        if path.startswith("/api/v1/achievements/") and method != "delete":
            names = {p["name"] for p in openapi["paths"][path][method].get("parameters", [])}
            assert "lang" in names, (path, method)


def test_the_token_security_scheme_is_documented(openapi):
    scheme = openapi["components"]["securitySchemes"]["tokenAuth"]

    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


def test_reads_are_documented_as_public(openapi):
    # An empty security requirement is OpenAPI's way of saying "no credentials needed".
    for path, method in OPERATIONS - WRITES:
        assert {} in openapi["paths"][path][method]["security"], (path, method)


def test_the_patch_schemas_mark_the_english_texts_as_required_values(openapi):
    patched = openapi["components"]["schemas"]["PatchedAchievementWriteRequest"]["properties"]

    # English may be left out of a PATCH, but never set to null: it is the fallback language.
    for field in ("name_en", "description_en"):
        assert not patched[field].get("nullable", False), field


def test_operation_descriptions_speak_to_clients_not_about_the_code(openapi):
    for path, method in OPERATIONS:
        description = openapi["paths"][path][method].get("description", "")
        assert "self." not in description, (path, method)
        assert "()" not in description, (path, method)


def test_lists_document_limit_and_offset(openapi):
    for path in (
        "/api/v1/users/",
        "/api/v1/achievements/",
        "/api/v1/users/{username}/achievements/",
    ):
        names = {p["name"] for p in openapi["paths"][path]["get"]["parameters"]}
        assert {"limit", "offset"} <= names, path


# --- docs pages, offline ------------------------------------------------------------------


class _Links(HTMLParser):
    """Every src and href in a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_nothing_from_another_host(anonymous, path):
    response = anonymous.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    links = _Links()
    links.feed(html)
    assert links.urls
    foreign = [url for url in links.urls if urlsplit(url).netloc not in ("", "testserver")]
    assert foreign == []
    other_hosts = re.findall(r"https?://(?!testserver[/:])[^\s\"'<>]+", html)
    assert other_hosts == []


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_assets_are_shipped_as_static_files(anonymous, path):
    links = _Links()
    links.feed(anonymous.get(path).content.decode())

    scripts = [url for url in links.urls if url.endswith(".js")]
    assert scripts
    for url in links.urls:
        if urlsplit(url).netloc:
            continue  # foreign hosts are the other test's business
        if url == "/api/redoc/redoc.standalone.js":
            # ReDoc's bundle, served by the app with its logo pointed here (core/docs.py).
            assert anonymous.get(url).status_code == 200
            continue
        if url == f"{path}?script=":
            continue  # Swagger UI's start-up code, served by its view: no inline script (CSP)
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url


def test_the_redoc_bundle_points_its_logo_at_a_local_copy(anonymous):
    response = anonymous.get("/api/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = response.content.decode()
    assert "cdn.redoc.ly" not in bundle
    assert "/static/docs/redoc-logo-mini.svg" in bundle
    assert finders.find("docs/redoc-logo-mini.svg")
    assert len(bundle) > 100_000  # the whole bundle, not a stub


# --- schemathesis, in process ---------------------------------------------------------------


def test_request_bodies_can_be_generated_from_json_schemas():
    """schemathesis generates bodies with hypothesis-jsonschema, which breaks when Hypothesis
    drops the internals it uses (`many.more()`, gone in Hypothesis 6.170.10)."""

    @given(from_schema({"type": "object", "properties": {"a": {"type": "string"}}}))
    @hypothesis_settings(max_examples=3, database=None, derandomize=True)
    def generate(body):
        assert isinstance(body, dict)

    generate()


# The checks that hold a response to the schema; no 5xx is one of them.
CONFORMANCE = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture
def demo_token(db) -> str:
    """The demo data, and a token allowed to write."""
    call_command("seed_demo_data", verbosity=0)
    return integration_account_ensure(name="schemathesis")


@pytest.fixture
def api_schema(demo_token):
    """The schema served by the WSGI application itself, called in process.

    Like Django's test client, keep the handler from closing the test's database connection
    at the end of each request: that would end the transaction the test runs in.
    """
    from achievements_site.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema").include(
    # Users, the catalog and awards; the stats endpoints are exercised by their own suite.
    path_regex=r"^/api/v1/(users|achievements)/"
)


def _aim_at_demo_data(case) -> None:
    """Point three in four generated names and codes at rows that exist now (chosen by a hash,
    so runs repeat), so that reads, writes and deletes reach real objects, not only 404s."""

    def pick(value, model, field):
        existing = sorted(model.objects.values_list(field, flat=True))
        if not isinstance(value, str) or not existing:
            return value
        digest = zlib.crc32(value.encode("utf-8", "surrogatepass"))
        return value if digest % 4 == 0 else existing[digest % len(existing)]

    for name, model in (("username", User), ("code", Achievement)):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = pick(case.path_parameters[name], model, name)
    if isinstance(case.body, dict) and "achievement" in case.body:
        case.body["achievement"] = pick(case.body["achievement"], Achievement, "code")


@schema.parametrize()
@hypothesis_settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(case, demo_token):
    _aim_at_demo_data(case)

    case.call_and_validate(headers={"Authorization": f"Token {demo_token}"}, checks=CONFORMANCE)


# --- patterns and enums ---------------------------------------------------------------------


def _matches(pattern: str, value: str) -> bool:
    # The schema's ECMA-262 anchors, read by Python: `$` must not accept a final newline.
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None


USERNAME_SAMPLES = ["a", "Alice", "a.b+c@d_e-f", ".a", "a.", "_", ".", "..", "...", "", "a b"]
CODE_SAMPLES = ["dragon", "first-blood_2", "a", "Dragon", "drag on", "", "é"]


def _username_is_valid(username: str) -> bool:
    from django.core.exceptions import ValidationError

    try:
        User(username=username).clean_fields(exclude=["created_at", "language"])
    except ValidationError:
        return False
    return True


def _code_is_valid(code: str) -> bool:
    from django.core.exceptions import ValidationError

    try:
        Achievement(code=code, points=1, name_en="x", description_en="x").clean_fields()
    except ValidationError:
        return False
    return True


def test_every_username_in_the_schema_carries_the_rule_as_a_pattern(openapi):
    parameters = [
        parameter
        for path, item in openapi["paths"].items()
        if "{username}" in path
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "username"
    ]
    body = openapi["components"]["schemas"]["UserCreateRequest"]["properties"]["username"]
    patterns = {parameter["schema"]["pattern"] for parameter in parameters} | {body["pattern"]}

    operations = [
        operation
        for path, item in openapi["paths"].items()
        if "{username}" in path
        for operation in item.values()
    ]
    assert len(parameters) == len(operations) >= 6  # a user, awards, a revocation, and more
    assert len(patterns) == 1
    pattern = patterns.pop()
    for username in USERNAME_SAMPLES:
        assert _matches(pattern, username) == _username_is_valid(username), username


def test_every_code_in_the_schema_carries_the_rule_as_a_pattern(openapi):
    parameters = [
        parameter
        for path, item in openapi["paths"].items()
        if "{code}" in path
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "code"
    ]
    schemas = openapi["components"]["schemas"]
    bodies = [
        schemas["AchievementWriteRequest"]["properties"]["code"],
        schemas["AwardCreateRequest"]["properties"]["achievement"],
    ]
    patterns = {p["schema"]["pattern"] for p in parameters} | {b["pattern"] for b in bodies}

    assert len(parameters) == 4
    assert len(patterns) == 1
    pattern = patterns.pop()
    for code in CODE_SAMPLES:
        assert _matches(pattern, code) == _code_is_valid(code), code


def _parameter(openapi, path: str, name: str) -> dict:
    parameters = openapi["paths"][path]["get"]["parameters"]
    return next(parameter for parameter in parameters if parameter["name"] == name)


def test_query_parameters_document_their_enums_and_ranges(openapi):
    ordering = _parameter(openapi, "/api/v1/users/", "ordering")["schema"]
    by = _parameter(openapi, "/api/v1/stats/leaderboard/", "by")["schema"]
    lang = _parameter(openapi, "/api/v1/achievements/", "lang")["schema"]
    days = _parameter(openapi, "/api/v1/stats/streaks/", "days")["schema"]

    assert ordering["type"] == "array"
    assert set(ordering["items"]["enum"]) == {
        f"{sign}{name}"
        for sign in ("", "-")
        for name in ("points", "achievements_count", "username", "created_at")
    }
    assert by["enum"] == ["points", "achievements"]
    assert lang["enum"] == ["en", "ru"]
    assert (days["minimum"], days["maximum"], days["default"]) == (2, 3650, 7)
    assert _parameter(openapi, "/api/v1/stats/", "days")["schema"] == days
