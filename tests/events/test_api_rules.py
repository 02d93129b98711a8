"""`rule` on the achievement API, and awards unlocked by events through the API."""

import pytest

from achievements.models import Achievement, Award
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACHIEVEMENTS = "/api/v1/achievements/"


def new_achievement(**extra):
    return {"points": 10, "name_en": "Runner", "description_en": "Run.", "goal": 3, **extra}


def test_an_achievement_is_created_with_a_rule_and_reads_it(api, anonymous):
    rule = {"event": "run.done", "measure": "streak"}
    response = api.post(ACHIEVEMENTS, new_achievement(code="runner", rule=rule), format="json")

    assert response.status_code == 201
    assert response.json()["rule"] == rule
    assert anonymous.get(f"{ACHIEVEMENTS}runner/").json()["rule"] == rule


@pytest.mark.parametrize(
    "rule",
    [
        {"event": "Run", "measure": "count"},
        {"event": "", "measure": "count"},
        {"event": "x" * 65, "measure": "count"},
        {"event": 5, "measure": "count"},
        {"event": "run", "measure": "mean"},
        {"event": "run"},
        {"event": "run", "measure": "count", "extra": 1},
        "run:count",
        ["run", "count"],
        7,
    ],
)
def test_a_bad_rule_is_a_400_naming_rule_and_changes_nothing(api, rule):
    response = api.post(ACHIEVEMENTS, new_achievement(rule=rule), format="json")

    assert response.status_code == 400
    assert "rule" in response.json()
    assert not Achievement.objects.exists()


def test_a_rule_is_changed_and_removed_by_patch(api):
    api.post(ACHIEVEMENTS, new_achievement(code="runner"), format="json")

    changed = api.patch(
        f"{ACHIEVEMENTS}runner/", {"rule": {"event": "run", "measure": "sum"}}, format="json"
    )
    removed = api.patch(f"{ACHIEVEMENTS}runner/", {"rule": None}, format="json")

    assert changed.json()["rule"] == {"event": "run", "measure": "sum"}
    assert removed.json()["rule"] is None


def test_events_unlock_a_rule_driven_achievement_through_the_api(api, anonymous):
    UserFactory(username="ann")
    rule = {"event": "run", "measure": "count"}
    api.post(ACHIEVEMENTS, new_achievement(code="runner", rule=rule), format="json")
    events = [{"id": str(n), "user": "ann", "type": "run"} for n in range(4)]

    response = api.post("/api/v1/events/", {"events": events}, format="json")

    assert [r["unlocked"] for r in response.json()["results"]] == [[], [], ["runner"], []]
    assert Award.objects.get().achievement.code == "runner"
    progress = anonymous.get("/api/v1/users/ann/progress/").json()["results"]
    assert [(p["achievement"], p["steps"], p["unlocked"]) for p in progress] == [
        ("runner", 3, True)
    ]


def test_progress_cannot_be_posted_for_a_rule_driven_achievement(api):
    UserFactory(username="ann")
    rule = {"event": "run", "measure": "count"}
    api.post(ACHIEVEMENTS, new_achievement(code="runner", rule=rule), format="json")

    response = api.post(
        "/api/v1/users/ann/progress/", {"achievement": "runner", "increment": 1}, format="json"
    )

    assert response.status_code == 400


def test_a_batch_with_rules_reads_the_old_measures_in_the_statement_that_refreshes_them(
    api, django_assert_num_queries, settings
):
    # The token looked up on every request (3 statements), whatever cache the run has.
    settings.AUTH_TOKEN_CACHE_SECONDS = 0
    UserFactory(username="ann")
    rule = {"event": "run", "measure": "count"}
    api.post(ACHIEVEMENTS, new_achievement(code="runner", goal=5, rule=rule), format="json")
    api.post("/api/v1/events/", {"id": "0", "user": "ann", "type": "run"}, format="json")
    events = [{"id": str(n), "user": "ann", "type": "run"} for n in range(1, 4)]

    # On PostgreSQL the measures' figures before and after the batch come from the statement
    # that refreshes them (the type lock, a statement SQLite does not need, makes up the
    # count); SQLite reads the old ones in a statement of their own.
    with django_assert_num_queries(3 + 9):
        response = api.post("/api/v1/events/", {"events": events}, format="json")

    assert response.json()["accepted"] == 3
    progress = api.get("/api/v1/users/ann/progress/").json()["results"]
    assert [(p["achievement"], p["steps"]) for p in progress] == [("runner", 4)]
