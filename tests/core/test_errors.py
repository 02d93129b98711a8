"""Bad input of every kind is a 4xx in DRF's error shape, never a 500, and never changes data."""

import json

import pytest

from achievements.models import Achievement, Award
from tests.factories import AchievementFactory, UserFactory
from users.models import User

# (path, a valid body) for each POST/PATCH the API offers.
WRITES = [
    ("post", "/api/v1/users/", {"username": "newbie"}),
    ("patch", "/api/v1/users/ann/", {"language": "ru"}),
    (
        "post",
        "/api/v1/achievements/",
        {"code": "new-one", "points": 5, "name_en": "New", "description_en": "New."},
    ),
    ("patch", "/api/v1/achievements/dragon/", {"points": 5}),
    ("post", "/api/v1/users/ann/achievements/", {"achievement": "dragon"}),
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


@pytest.fixture
def scene(db):
    UserFactory(username="ann", language="en")
    AchievementFactory(code="dragon", points=40)


def state() -> tuple:
    return (
        list(User.objects.values_list("username", "language", "points")),
        list(Achievement.objects.values_list("code", "points", "name_en")),
        list(Award.objects.values_list("user_id", "achievement_id")),
    )


def send_raw(client, method: str, path: str, data, content_type="application/json"):
    return getattr(client, method)(path, data=data, content_type=content_type)


def assert_error_shape(response) -> None:
    """DRF's shape: {"detail": message} or {"field": [messages]}."""
    body = response.json()
    assert isinstance(body, dict) and body
    for key, value in body.items():
        if key == "detail":
            assert isinstance(value, str) and value
        else:
            assert isinstance(value, list) and value
            assert all(isinstance(message, str) and message for message in value)


# --- malformed bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"username": ', "{'username': 'x'}", "not json", '{"a": 1,}', "\x00", '{"a": NaN}'],
    ids=["truncated", "single-quotes", "words", "trailing-comma", "nul", "nan"],
)
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_malformed_json_is_400_with_a_detail(api, scene, method, path, body, raw):
    before = state()

    response = send_raw(api, method, path, raw)

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert "JSON" in response.json()["detail"]
    assert state() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_a_body_that_is_not_json_is_415(api, scene, method, path, body, content_type):
    before = state()

    response = send_raw(api, method, path, json.dumps(body), content_type=content_type)

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}
    assert state() == before


def test_json_with_a_charset_is_accepted(api, scene):
    response = send_raw(
        api,
        "post",
        "/api/v1/users/",
        json.dumps({"username": "newbie"}).encode(),
        "application/json; charset=utf-8",
    )

    assert response.status_code == 201


@pytest.mark.parametrize("raw", ["[]", '[{"username": "newbie"}]', '"newbie"', "5", "true", "null"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_a_json_body_that_is_not_an_object_is_400(api, scene, method, path, body, raw):
    before = state()

    response = send_raw(api, method, path, raw)

    assert response.status_code == 400
    assert_error_shape(response)
    assert state() == before


def test_an_empty_body_is_400_naming_the_required_fields(api, scene):
    response = send_raw(api, "post", "/api/v1/achievements/", "")

    assert response.status_code == 400
    assert {"points", "name_en", "description_en"} <= set(response.json())


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_a_body_over_one_mebibyte_is_refused_and_changes_nothing(api, scene, method, path, body):
    before = state()
    padded = {**body, "padding": "x" * (1024 * 1024)}

    response = send_raw(api, method, path, json.dumps(padded))

    assert 400 <= response.status_code < 500
    assert state() == before


def test_an_oversized_text_value_is_refused_not_a_500(api, scene):
    response = api.post("/api/v1/users/", {"username": "x" * (2 * 1024 * 1024)})

    assert 400 <= response.status_code < 500
    assert not User.objects.filter(username__startswith="xxx").exists()


def test_deeply_nested_json_is_400_not_a_500(api, scene):
    api.raise_request_exception = False
    depth = 100_000
    raw = '{"username": ' + "[" * depth + "]" * depth + "}"

    response = send_raw(api, "post", "/api/v1/users/", raw)

    assert response.status_code == 400
    assert_error_shape(response)


def test_a_body_that_is_not_utf8_is_400(api, scene):
    response = send_raw(api, "post", "/api/v1/users/", b'{"username": "\xff\xfe"}')

    assert response.status_code == 400
    assert_error_shape(response)


def test_an_integer_with_thousands_of_digits_is_400(api, scene):
    raw = '{"code": "big", "points": ' + "9" * 5000 + ', "name_en": "B", "description_en": "B"}'

    response = send_raw(api, "post", "/api/v1/achievements/", raw)

    assert response.status_code == 400
    assert_error_shape(response)
    assert not Achievement.objects.filter(code="big").exists()


@pytest.mark.parametrize("points", ["1e400", "-1e400", "1e2", "100.0"])
def test_points_written_as_json_floats_are_refused(api, scene, points):
    raw = '{"code": "f", "points": ' + points + ', "name_en": "F", "description_en": "F"}'

    response = send_raw(api, "post", "/api/v1/achievements/", raw)

    assert response.status_code == 400
    assert list(response.json()) == ["points"]


# --- text the database cannot store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users/", {"username": "a\x00b"}),
        (
            "/api/v1/achievements/",
            {"code": "nul", "points": 1, "name_en": "a\x00b", "description_en": "d"},
        ),
        ("/api/v1/users/ann/achievements/", {"achievement": "dra\x00gon"}),
    ],
    ids=["username", "name", "achievement"],
)
def test_a_nul_character_in_a_value_is_400_and_changes_nothing(api, scene, path, body):
    # PostgreSQL text cannot hold NUL: the value must be refused before or at the database.
    api.raise_request_exception = False
    before = state()

    response = api.post(path, body)

    assert response.status_code == 400
    assert_error_shape(response)
    assert state() == before


@pytest.mark.parametrize("field", ["name_en", "description_en", "name_ru"])
def test_a_lone_surrogate_in_a_text_is_400_not_a_500(api, scene, field):
    api.raise_request_exception = False
    body = {"code": "sur", "points": 1, "name_en": "ok", "description_en": "ok"}
    raw = json.dumps(body)[:-1] + f', "{field}": "bad \\ud800 text"}}'

    response = send_raw(api, "post", "/api/v1/achievements/", raw)

    assert response.status_code == 400
    assert not Achievement.objects.filter(code="sur").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/users/a%00b/"),
        ("get", "/api/v1/users/a%00b/achievements/"),
        ("get", "/api/v1/achievements/a%00b/"),
        ("patch", "/api/v1/users/a%00b/"),
        ("delete", "/api/v1/users/ann/achievements/a%00b/"),
        ("delete", "/api/v1/achievements/a%00b/"),
    ],
)
def test_a_nul_character_in_the_path_is_a_4xx_not_a_500(api, scene, method, path):
    # No user or code can hold a NUL, so 404 fits best; a 400 naming the problem also keeps
    # the contract. PostgreSQL text cannot hold NUL, so a lookup that sends one would fail.
    api.raise_request_exception = False
    before = state()

    response = getattr(api, method)(path)

    assert response.status_code in (400, 404)
    assert_error_shape(response)
    assert state() == before


@pytest.mark.parametrize(
    "query",
    [{"search": "a\x00b"}, {"ordering": "points\x00"}, {"lang": "e\x00n"}, {"limit": "1\x00"}],
    ids=["search", "ordering", "lang", "limit"],
)
def test_a_nul_character_in_a_query_parameter_is_not_a_500(anonymous, scene, query):
    anonymous.raise_request_exception = False
    users = anonymous.get("/api/v1/users/", query)
    catalog = anonymous.get("/api/v1/achievements/", query)

    assert users.status_code in (200, 400)
    assert catalog.status_code in (200, 400)


# --- error shapes ---------------------------------------------------------------------------


def test_a_method_not_offered_is_405_with_a_detail(api, scene):
    response = api.put("/api/v1/users/ann/", {"language": "ru"})

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/users/", {"username": "bad name", "language": "xx"}),
        ("post", "/api/v1/achievements/", {"points": 0}),
        ("post", "/api/v1/users/ann/achievements/", {"achievement": "nope"}),
        ("get", "/api/v1/users/nobody/", None),
        ("get", "/api/v1/achievements/?lang=xx", None),
        ("get", "/api/v1/users/?ordering=nope", None),
    ],
)
def test_every_4xx_is_in_drfs_error_shape(api, scene, method, path, body):
    response = getattr(api, method)(path, body) if body else getattr(api, method)(path)

    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json"
    assert_error_shape(response)


def test_several_bad_fields_are_named_at_once(api, scene):
    response = api.post("/api/v1/achievements/", {"points": -5, "name_en": "x" * 201})

    assert response.status_code == 400
    assert set(response.json()) == {"points", "name_en", "description_en"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/users/", {"username": 0}, "username"),
        ("/api/v1/achievements/", {"points": 5, "name_en": 5, "description_en": "x"}, "name_en"),
        (
            "/api/v1/achievements/",
            {"points": 5, "name_en": "x", "description_en": 1.5},
            "description_en",
        ),
        (
            "/api/v1/achievements/",
            {"points": 5, "code": 7, "name_en": "x", "description_en": "x"},
            "code",
        ),
    ],
)
def test_a_number_where_text_belongs_is_refused_not_turned_into_text(api, path, body, field):
    response = api.post(path, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.filter(username="0").exists()
    assert not Achievement.objects.exists()


@pytest.mark.parametrize(
    "path", ["/api/v1/users/nobody/achievements/", "/api/v1/users/nobody/achievements/x/"]
)
def test_a_method_a_route_lacks_is_405_even_for_an_unknown_user(api, path):
    response = api.put(path, {}, format="json")

    assert response.status_code == 405


# --- codes, usernames and choices given as anything but a string ----------------------------


def _nested(depth: int):
    value = "dragon"
    for _ in range(depth):
        value = [value]
    return value


NOT_STRINGS = {
    "nested-464": _nested(464),
    "nested-3": _nested(3),
    "list": ["dragon"],
    "object": {"code": "dragon"},
    "integer": 7,
    "float": 1.5,
    "true": True,
    "false": False,
    "null": None,
}

# Every body field that names something by its code or username, or picks a choice.
STRING_FIELDS = [
    ("post", "/api/v1/users/ann/achievements/", {}, "achievement"),
    ("post", "/api/v1/users/", {}, "username"),
    ("post", "/api/v1/users/", {"username": "newbie"}, "language"),
    ("patch", "/api/v1/users/ann/", {}, "language"),
    (
        "post",
        "/api/v1/achievements/",
        {"points": 5, "name_en": "New", "description_en": "New."},
        "code",
    ),
]


@pytest.mark.parametrize("value", NOT_STRINGS.values(), ids=NOT_STRINGS.keys())
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    STRING_FIELDS,
    ids=[f"{method} {path} {field}" for method, path, _, field in STRING_FIELDS],
)
def test_a_code_username_or_choice_that_is_not_a_string_is_400_naming_the_field(
    api, scene, method, path, body, field, value
):
    before = state()

    response = getattr(api, method)(path, {**body, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert_error_shape(response)
    assert state() == before


@pytest.mark.parametrize("value", NOT_STRINGS.values(), ids=NOT_STRINGS.keys())
def test_an_award_code_that_is_not_a_string_is_refused_before_any_catalog_query(api, scene, value):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/v1/users/ann/achievements/", {"achievement": value}, "json")

    assert response.status_code == 400
    assert list(response.json()) == ["achievement"]
    assert not [q["sql"] for q in queries if "achievements_achievement" in q["sql"]]
