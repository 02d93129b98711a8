"""`/api/v1/users/{username}/progress/`: incremental achievements over the API."""

from unittest import mock

import pytest

from achievements.models import Achievement, Award, Progress
from achievements.services.awards import award_grant, award_revoke
from achievements.services.progress import progress_increment, progress_set
from tests.factories import AchievementFactory, UserFactory

PROGRESS_FIELDS = [
    "achievement",
    "name",
    "description",
    "steps",
    "goal",
    "percent",
    "unlocked",
    "updated_at",
]


def url(username: str) -> str:
    return f"/api/v1/users/{username}/progress/"


@pytest.fixture
def reader(db):
    return UserFactory(username="reader1", language="ru")


@pytest.fixture
def cards(db):
    return AchievementFactory(
        code="cards", goal=10, name_en="Read 10 cards", name_ru="Прочтите 10 карточек"
    )


def test_an_increment_adds_steps_and_answers_with_the_progress(api, reader, cards):
    response = api.post(url("reader1"), {"achievement": "cards", "increment": 3})

    assert response.status_code == 200
    body = response.json()
    assert list(body) == [*PROGRESS_FIELDS, "unlocked_now"]
    assert body["steps"] == 3
    assert body["goal"] == 10
    assert body["percent"] == 30.0
    assert body["unlocked"] is False
    assert body["unlocked_now"] is False
    # In the user's language, whatever the request asks for.
    assert body["name"] == "Прочтите 10 карточек"
    assert response["Content-Language"] == "ru"


def test_reaching_the_goal_grants_the_award_once(api, reader, cards):
    api.post(url("reader1"), {"achievement": "cards", "increment": 7})

    response = api.post(url("reader1"), {"achievement": "cards", "increment": 5})

    body = response.json()
    assert (body["steps"], body["unlocked"], body["unlocked_now"]) == (10, True, True)
    assert body["percent"] == 100.0
    reader.refresh_from_db()
    assert (reader.achievements_count, reader.points) == (1, cards.points)
    again = api.post(url("reader1"), {"achievement": "cards", "increment": 1}).json()
    assert (again["steps"], again["unlocked"], again["unlocked_now"]) == (10, True, False)
    assert Award.objects.filter(user=reader, achievement=cards).count() == 1


def test_steps_set_at_least_and_never_lower(api, reader, cards):
    api.post(url("reader1"), {"achievement": "cards", "steps": 6})

    lower = api.post(url("reader1"), {"achievement": "cards", "steps": 2})

    assert lower.status_code == 200
    assert lower.json()["steps"] == 6


def test_percent_has_two_decimals_rounded_down(api, reader):
    AchievementFactory(code="third", goal=3)

    body = api.post(url("reader1"), {"achievement": "third", "increment": 2}).json()

    assert body["percent"] == 66.66


def test_an_achievement_held_already_is_left_unchanged(api, reader, cards):
    award, _ = award_grant(user=reader, achievement=cards)

    response = api.post(url("reader1"), {"achievement": "cards", "steps": 3})

    assert response.status_code == 200
    assert response.json()["steps"] == 10
    assert response.json()["unlocked_now"] is False
    assert Award.objects.get(pk=award.pk).awarded_at == award.awarded_at


@pytest.mark.parametrize(
    "body",
    [
        {"achievement": "cards"},
        {"achievement": "cards", "increment": 1, "steps": 1},
        {"achievement": "cards", "increment": "1"},
        {"achievement": "cards", "increment": 1.0},
        {"achievement": "cards", "increment": True},
        {"achievement": "cards", "increment": 0},
        {"achievement": "cards", "increment": 11},
        {"achievement": "cards", "steps": -1},
        {"achievement": "cards", "steps": 11},
        {"achievement": "cards", "steps": None},
        {"achievement": "nope", "increment": 1},
        {"achievement": 5, "increment": 1},
        {"increment": 1},
    ],
)
def test_bad_input_is_a_400_that_changes_nothing(api, reader, cards, body):
    response = api.post(url("reader1"), body)

    assert response.status_code == 400, response.content
    assert Progress.objects.count() == 0


def test_an_unknown_user_is_a_404(api, cards):
    response = api.post(url("ghost"), {"achievement": "cards", "increment": 1})

    assert response.status_code == 404
    assert api.get(url("ghost")).status_code == 404


def test_progress_needs_credentials_and_the_award_permission(anonymous, unprivileged, reader):
    AchievementFactory(code="cards", goal=10)
    body = {"achievement": "cards", "increment": 1}

    assert anonymous.post(url("reader1"), body).status_code == 401
    assert unprivileged.post(url("reader1"), body).status_code == 403
    assert Progress.objects.count() == 0


def test_the_list_holds_progress_and_awards_most_recently_changed_first(anonymous, reader, cards):
    single = AchievementFactory(code="single")
    untouched = AchievementFactory(code="untouched", goal=5)
    progress_increment(user=reader, achievement=cards, increment=4)
    award_grant(user=reader, achievement=single)
    progress_set(user=reader, achievement=untouched, steps=0)

    response = anonymous.get(url("READER1"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(r["achievement"], r["steps"], r["unlocked"]) for r in body["results"]] == [
        ("single", 1, True),
        ("cards", 4, False),
    ]
    assert list(body["results"][0]) == PROGRESS_FIELDS
    assert response["Content-Language"] == "ru"


def test_a_grant_sets_steps_to_the_goal_and_a_revocation_to_zero(reader, cards):
    progress_increment(user=reader, achievement=cards, increment=4)

    award_grant(user=reader, achievement=cards)
    assert Progress.objects.get(user=reader, achievement=cards).steps == 10

    award_revoke(user=reader, achievement=cards)
    assert not Progress.objects.filter(user=reader, achievement=cards, steps__gt=0).exists()
    progress, unlocked = progress_increment(user=reader, achievement=cards, increment=1)
    assert (progress.steps, unlocked) == (1, False)


def test_the_list_runs_a_constant_number_of_queries(
    anonymous, reader, django_assert_max_num_queries
):
    for i in range(30):
        achievement = AchievementFactory(goal=5, hidden=i % 2 == 0)
        progress_increment(user=reader, achievement=achievement, increment=1 + i % 5)

    with django_assert_max_num_queries(3):  # the user, the count, the page
        response = anonymous.get(url("reader1"))

    assert response.json()["count"] == 30


def test_the_goal_is_frozen_once_anyone_has_progress(api, reader, cards):
    assert api.patch("/api/v1/achievements/cards/", {"goal": 12}).status_code == 200
    progress_increment(user=reader, achievement=cards, increment=1)

    response = api.patch("/api/v1/achievements/cards/", {"goal": 20})

    assert response.status_code == 409
    assert "goal" in response.json()["detail"]
    cards.refresh_from_db()
    assert cards.goal == 12


def test_the_goal_is_frozen_once_anyone_holds_it(api, reader):
    single = AchievementFactory(code="single")
    award_grant(user=reader, achievement=single)

    assert api.patch("/api/v1/achievements/single/", {"goal": 3}).status_code == 409
    # Re-sending the same goal changes nothing and is fine.
    assert api.patch("/api/v1/achievements/single/", {"goal": 1}).status_code == 200


@pytest.mark.parametrize("goal", [0, 1_000_000_001, "5", 2.0, True, None])
def test_a_bad_goal_is_a_400(api, goal):
    body = {"points": 5, "name_en": "N", "description_en": "D", "goal": goal}

    assert api.post("/api/v1/achievements/", body).status_code == 400


@pytest.mark.parametrize("hidden", ["true", 1, None])
def test_hidden_must_be_a_json_boolean(api, hidden):
    body = {"points": 5, "name_en": "N", "description_en": "D", "hidden": hidden}

    assert api.post("/api/v1/achievements/", body).status_code == 400


def test_goal_and_hidden_are_set_by_post_and_patch(api):
    body = {"points": 5, "name_en": "Marathon", "description_en": "Run.", "goal": 42}
    created = api.post("/api/v1/achievements/", body).json()
    assert (created["goal"], created["hidden"], created["rule"]) == (42, False, None)

    changed = api.patch(f"/api/v1/achievements/{created['code']}/", {"hidden": True}).json()

    assert (changed["goal"], changed["hidden"]) == (42, True)


def test_progress_on_an_achievement_with_a_rule_is_a_400(api, reader, cards):
    rule = {"event": "card.read", "measure": "count"}
    with mock.patch.object(Achievement, "rule", new_callable=mock.PropertyMock) as patched:
        patched.return_value = rule
        response = api.post(url("reader1"), {"achievement": "cards", "increment": 1})

    assert response.status_code == 400
    assert "events" in response.json()["achievement"][0]
    assert Progress.objects.count() == 0
