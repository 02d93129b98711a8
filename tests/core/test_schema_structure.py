"""The schema's structure for people reading the docs: operations grouped by resource, each
with a summary and examples, and both ways to authenticate described."""

import json

import pytest

from core.schema import RESOURCE_TAGS

pytestmark = pytest.mark.django_db

EXPECTED_TAGS = {
    "/api/v1/users/": "Users",
    "/api/v1/users/{username}/": "Users",
    "/api/v1/achievements/": "Achievements",
    "/api/v1/achievements/{code}/": "Achievements",
    "/api/v1/users/{username}/achievements/": "Awards",
    "/api/v1/users/{username}/achievements/{code}/": "Awards",
    "/api/v1/stats/": "Stats",
    "/api/v1/stats/leaderboard/": "Stats",
    "/api/v1/stats/streaks/": "Stats",
}


@pytest.fixture
def openapi(anonymous) -> dict:
    response = anonymous.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(openapi):
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_is_tagged_by_its_resource(openapi):
    for path, _method, operation in operations(openapi):
        if path == "/api/v1/":
            continue  # the API root lists the resources; it is none of them
        assert len(operation["tags"]) == 1, path
        assert operation["tags"][0] in RESOURCE_TAGS.values(), path
        assert operation["tags"][0] != "v1"
    for path, tag in EXPECTED_TAGS.items():
        for method, operation in openapi["paths"][path].items():
            assert operation["tags"] == [tag], f"{method.upper()} {path}"


def test_the_tags_are_described_in_resource_order(openapi):
    names = [tag["name"] for tag in openapi["tags"]]

    assert names == [
        "Users",
        "Achievements",
        "Awards",
        "Progress",
        "Events",
        "Activity",
        "Webhooks",
        "Stats",
    ]
    assert all(tag["description"] for tag in openapi["tags"])


def test_every_operation_has_a_summary(openapi):
    for path, method, operation in operations(openapi):
        assert operation.get("summary"), f"{method.upper()} {path}"


def test_every_operation_with_a_body_has_examples_of_it(openapi):
    for path, method, operation in operations(openapi):
        name = f"{method.upper()} {path}"
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            assert content.get("examples"), name
        successes = [
            response
            for status, response in operation["responses"].items()
            if status.startswith("2") and "content" in response
        ]
        for response in successes:
            assert response["content"]["application/json"].get("examples"), name


def test_a_list_example_is_shown_inside_the_pagination_envelope(openapi):
    content = openapi["paths"]["/api/v1/users/"]["get"]["responses"]["200"]["content"]
    example = next(iter(content["application/json"]["examples"].values()))["value"]

    assert set(example) == {"count", "next", "previous", "results"}
    assert example["results"][0]["username"] == "masha_k"


def test_both_ways_to_authenticate_are_described(openapi):
    schemes = openapi["components"]["securitySchemes"]
    description = openapi["info"]["description"]

    assert schemes["tokenAuth"]["name"] == "Authorization"
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert "Authorization: Token <key>" in description
    assert "X-CSRFToken" in description
