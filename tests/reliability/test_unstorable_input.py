"""Input the database cannot store or compare is a 4xx, never a 500.

PostgreSQL text cannot hold a NUL character: a lookup or a search that carries one fails in the
database itself (DataError). The long schemathesis run found it (a NUL in a path parameter).
"""

import pytest
from rest_framework.test import APIClient

from achievements.accounts import integration_account_ensure
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client

READS = [
    "/api/v1/users/?search=a%00",
    "/api/v1/users/a%00/",
    "/api/v1/users/a%00/achievements/",
    "/api/v1/achievements/a%00/",
]


@pytest.fixture
def data(db):
    UserFactory(username="ada")
    AchievementFactory(code="first")


@pytest.mark.parametrize("path", READS)
def test_a_nul_character_in_a_lookup_or_search_is_not_a_server_error(data, path):
    response = APIClient(raise_request_exception=False).get(path)
    assert response.status_code in {200, 400, 404}, response.content[:300]
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/users/ada/achievements/", {"achievement": "first\u0000"}),
        ("patch", "/api/v1/achievements/first%00/", {"points": 5}),
        ("delete", "/api/v1/users/ada/achievements/first%00/", None),
        ("delete", "/api/v1/users/a%00/", None),
    ],
)
def test_a_nul_character_in_a_write_is_refused_and_changes_nothing(data, method, path, body):
    api = token_client(integration_account_ensure(name="writer"))
    api.raise_request_exception = False
    response = getattr(api, method)(path, body, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert "detail" in response.json() or "achievement" in response.json()
