"""The leaderboard page's period tabs, date picker and "around me" view."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from achievements.services.awards import award_grant
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(db):
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    award_grant(
        user=ann,
        achievement=AchievementFactory(points=30),
        awarded_at=datetime(2024, 3, 4, 12, tzinfo=UTC),
    )
    award_grant(user=bob, achievement=AchievementFactory(points=5))
    return ann, bob


def usernames(response) -> list[str]:
    return [row["username"] for row in response.context["rows"]]


def test_the_period_tabs_show_only_the_periods_awards(scene):
    assert usernames(Client().get("/leaderboard/")) == ["ann", "bob"]
    assert usernames(Client().get("/leaderboard/?period=day")) == ["bob"]
    march = Client().get("/leaderboard/?period=week&date=2024-03-10")
    assert usernames(march) == ["ann"]
    assert "March 4, 2024 to March 10, 2024" in text(march)


def test_the_date_picker_is_a_plain_get_form(scene):
    body = Client().get("/leaderboard/?period=month").content.decode()

    assert '<form class="date-picker" method="get"' in body
    assert '<input type="date" name="date"' in body
    assert "<script" not in body.split('<form class="date-picker"')[1].split("</form>")[0]


@pytest.mark.parametrize("query", ["period=decade", "period=day&date=2024-02-30", "date=x"])
def test_odd_parameters_fall_back_instead_of_failing(scene, query):
    response = Client().get(f"/leaderboard/?{query}")

    assert response.status_code == 200


def test_around_me_centres_on_the_user_and_marks_the_row(scene):
    response = Client().get("/leaderboard/?around=BOB")

    assert usernames(response) == ["ann", "bob"]
    assert response.context["around_rank"] == 2
    assert 'aria-current="true"' in response.content.decode()


def test_around_me_off_a_periods_board_says_so(scene):
    response = Client().get("/leaderboard/?around=ann&period=day", HTTP_ACCEPT_LANGUAGE="ru")

    assert response.context["rows"] == []
    assert "нет наград" in text(response)


def test_around_an_unknown_user_is_the_404_page(scene):
    assert Client().get("/leaderboard/?around=nobody").status_code == 404


def test_the_users_page_links_to_find_them_on_the_leaderboard(scene):
    body = Client().get("/users/ann/").content.decode()

    assert "/leaderboard/?around=ann" in body


def test_the_tabs_are_translated(scene):
    body = text(Client().get("/leaderboard/", HTTP_ACCEPT_LANGUAGE="ru"))

    for label in ("Сегодня", "Эта неделя", "Этот месяц", "Этот год", "всё время"):
        assert label in body
