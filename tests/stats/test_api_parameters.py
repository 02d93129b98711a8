"""The stats' query parameters: `days` is a whole number from 2 to 3650 and `by` is points or
achievements; anything else is a 400 naming the parameter, never a 500. Stats are read-only."""

import pytest
from rest_framework.test import APIClient

from tests.factories import AchievementFactory, UserFactory

pytestmark = pytest.mark.django_db

BAD_DAYS = [
    "0",
    "1",
    "3651",
    "99999",
    "-7",
    "+7",
    " 7",
    "7 ",
    "7\n",
    "7.0",
    "7e0",
    "seven",
    "",
    "0x7",
]
# Digits of other scripts are digits to Python's int(), not to an HTTP client.
BAD_DAYS += ["\u0667", "\uff17"]


@pytest.fixture
def api():
    UserFactory()
    return APIClient()


@pytest.mark.parametrize("path", ["streaks/", ""])
@pytest.mark.parametrize("days", BAD_DAYS)
def test_days_outside_2_to_3650_or_not_a_whole_number_is_a_400_naming_days(api, path, days):
    response = api.get(f"/api/v1/stats/{path}", {"days": days})

    assert response.status_code == 400
    assert list(response.json()) == ["days"]
    assert response.json()["days"]


@pytest.mark.parametrize("path", ["streaks/", ""])
@pytest.mark.parametrize("days", ["2", "7", "3650"])
def test_days_from_2_to_3650_are_accepted(api, path, days):
    response = api.get(f"/api/v1/stats/{path}", {"days": days})

    assert response.status_code == 200
    body = response.json()
    assert (body["streaks"] if path == "" else body)["results"] == []
    if path == "":
        assert body["streaks"]["days"] == int(days)


@pytest.mark.parametrize("path", ["streaks/", ""])
def test_days_defaults_to_7(api, path):
    response = api.get(f"/api/v1/stats/{path}")

    assert response.status_code == 200
    if path == "":
        assert response.json()["streaks"]["days"] == 7


@pytest.mark.parametrize("by", ["", "Points", "rank", "username", "points,achievements"])
def test_leaderboard_by_anything_but_points_or_achievements_is_a_400_naming_by(api, by):
    response = api.get("/api/v1/stats/leaderboard/", {"by": by})

    assert response.status_code == 400
    assert list(response.json()) == ["by"]


@pytest.mark.parametrize("by", ["points", "achievements"])
def test_leaderboard_by_points_or_achievements_is_accepted(api, by):
    response = api.get("/api/v1/stats/leaderboard/", {"by": by})

    assert response.status_code == 200
    assert [row["rank"] for row in response.json()["results"]] == [1]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "most-achievements/",
        "most-points/",
        "max-points-gap/",
        "min-points-gap/",
        "streaks/",
        "leaderboard/",
        "achievements/",
    ],
)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_stats_are_read_only(api, path, method):
    response = getattr(api, method)(f"/api/v1/stats/{path}", {})

    assert response.status_code in (401, 403, 405)


def test_achievement_stats_answer_in_the_requested_language(api):
    AchievementFactory(code="polyglot", name_en="Polyglot", name_ru="Полиглот")

    response = api.get("/api/v1/stats/achievements/", {"lang": "ru"})

    assert response.status_code == 200
    assert response["Content-Language"] == "ru"
    assert [row["name"] for row in response.json()["results"]] == ["Полиглот"]


def test_achievement_stats_in_an_unknown_language_is_a_400_naming_lang(api):
    response = api.get("/api/v1/stats/achievements/", {"lang": "xx"})

    assert response.status_code == 400
    assert list(response.json()) == ["lang"]
