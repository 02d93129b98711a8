"""Progress bars on a user's page, and hidden achievements on every public page."""

import pytest
from django.test import Client

from achievements.services.awards import award_grant
from achievements.services.progress import progress_increment
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from tests.helpers import text

pytestmark = pytest.mark.django_db

LOCKED_EN = "Hidden achievement"
LOCKED_RU = "Скрытое достижение"


@pytest.fixture
def secret(db):
    return AchievementFactory(
        code="secret",
        points=40,
        goal=4,
        hidden=True,
        name_en="The Night Owl",
        name_ru="Ночная сова",
        description_en="Study past midnight.",
        description_ru="Учитесь после полуночи.",
    )


def test_a_users_page_shows_progress_bars_in_the_users_language(db):
    learner = UserFactory(username="learner", language="ru")
    cards = AchievementFactory(code="cards", goal=10, name_en="Read 10 cards", name_ru="Десять")
    progress_increment(user=learner, achievement=cards, increment=7)

    body = text(Client().get("/users/learner/?lang=en"))

    assert "7 / 10" in body
    assert '<progress value="7" max="10"' in body
    assert "Десять" in body


def test_a_reached_goal_leaves_the_progress_bars_for_the_awards_list(db):
    learner = UserFactory(username="learner")
    cards = AchievementFactory(code="cards", goal=2, name_en="Read 2 cards")
    progress_increment(user=learner, achievement=cards, increment=2)

    response = Client().get("/users/learner/")

    assert response.context["in_progress"] == []
    assert [a["code"] for a in response.context["awards"]] == ["cards"]


def test_the_catalog_page_shows_a_hidden_achievement_locked_with_its_rarity(secret):
    award_grant(user=UserFactory(), achievement=secret)
    UserFactory()

    response = Client().get("/achievements/")

    row = response.context["rows"][0]
    assert (row["name"], row["holders"], row["percent"]) == (LOCKED_EN, 1, 50)
    assert "The Night Owl" not in text(response)


def test_the_achievements_page_shows_the_locked_text_in_the_visitors_language(secret):
    body = text(Client().get("/achievements/secret/?lang=ru"))

    assert LOCKED_RU in body
    assert "Ночная сова" not in body and "Study past midnight" not in body


def test_the_home_feed_locks_a_hidden_award(secret):
    award_grant(user=UserFactory(), achievement=secret)

    body = text(Client().get("/"))

    assert LOCKED_EN in body
    assert "The Night Owl" not in body


def test_a_users_page_shows_what_they_hold_and_locks_what_they_only_began(secret):
    holder = UserFactory(username="holder")
    award_grant(user=holder, achievement=secret)
    learner = UserFactory(username="learner")
    progress_increment(user=learner, achievement=secret, increment=1)

    assert "The Night Owl" in text(Client().get("/users/holder/"))
    began = text(Client().get("/users/learner/"))
    assert LOCKED_EN in began and "1 / 4" in began
    assert "The Night Owl" not in began


def test_an_operator_session_sees_the_real_texts(secret):
    client = Client()
    client.force_login(OperatorFactory())

    assert "The Night Owl" in text(client.get("/achievements/secret/"))
