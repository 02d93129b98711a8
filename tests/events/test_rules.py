"""Rules: progress follows the measure, reaching the goal grants, dated at the event that
reached it; adding a rule grants at once; a revocation is remembered."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from achievements.models import Achievement, Award, Progress
from achievements.queries import figures_mismatches
from achievements.services.awards import award_grant, award_revoke
from achievements.services.catalog import achievement_create, achievement_update
from events.services import events_record
from tests.events.oracle import EventRow, rule_outcomes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RULES = {
    "regular": ("login", "count", 5),
    "collector": ("xp", "sum", 120),
    "habitual": ("login", "days", 4),
    "scholar": ("lesson", "streak", 3),
    "first-login": ("login", "count", 1),
}


def create_rules(rules=RULES):
    return {
        code: achievement_create(
            code=code,
            points=10,
            goal=goal,
            names={"en": code},
            descriptions={"en": code},
            rule={"event": type_, "measure": measure},
        )
        for code, (type_, measure, goal) in rules.items()
    }


def stored_steps() -> dict:
    return {
        (p.user.username, p.achievement.code): p.steps
        for p in Progress.objects.select_related("user", "achievement")
    }


def stored_awards() -> dict:
    return {
        (a.user.username, a.achievement.code): a.awarded_at
        for a in Award.objects.select_related("user", "achievement")
    }


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_rule_progress_and_awards_equal_the_oracle(seed, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    rng = random.Random(seed)
    create_rules()
    usernames = [UserFactory().username for _ in range(5)]
    now = timezone.now()
    events = []
    for n in range(500):
        reuse = events and rng.random() < 0.1
        events.append(
            {
                "id": rng.choice(events)["id"] if reuse else f"ev-{n}",
                "user": rng.choice(usernames),
                "type": rng.choice(["login", "xp", "lesson", "other"]),
                "value": rng.randint(0, 20),
                "occurred_at": (
                    now - timedelta(days=rng.randint(0, 12), minutes=rng.randint(1, 1440))
                ).isoformat(),
            }
        )
    unlocked = {}
    start = 0
    while start < len(events):
        size = rng.randint(1, 60)
        batch = events[start : start + size]
        for event, result in zip(batch, events_record(events=batch), strict=True):
            for code in result.unlocked:
                unlocked[(event["user"], code)] = event["id"]
        start += size

    seen, arrivals, first_id = set(), [], {}
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        row = EventRow(
            event["user"],
            event["type"],
            event["value"],
            datetime.fromisoformat(event["occurred_at"]),
        )
        arrivals.append(row)
        first_id[row] = event["id"]
    steps, awards = rule_outcomes(arrivals, RULES, ZoneInfo("Asia/Tokyo"))

    assert stored_steps() == steps
    assert stored_awards() == awards
    assert {key for key in unlocked} == set(awards)
    assert len(awards) >= 5  # the workload reaches goals, not only trivia
    assert figures_mismatches() == []


def send(username, event_id, type_, *, days_ago=0, value=1):
    at = (timezone.now() - timedelta(days=days_ago, minutes=5)).isoformat()
    (result,) = events_record(
        events=[
            {"id": event_id, "user": username, "type": type_, "value": value, "occurred_at": at}
        ]
    )
    return result


def test_reaching_the_goal_unlocks_in_the_event_that_reached_it():
    create_rules({"fiver": ("run", "count", 3)})
    UserFactory(username="ann")

    assert send("ann", "1", "run").unlocked == []
    assert send("ann", "2", "run").unlocked == []
    third = send("ann", "3", "run", days_ago=2)

    assert third.unlocked == ["fiver"]
    award = Award.objects.get()
    assert timezone.now() - timedelta(days=2, minutes=6) < award.awarded_at
    assert award.awarded_at < timezone.now() - timedelta(days=2)
    assert send("ann", "4", "run").unlocked == []


def test_a_revoked_award_is_not_granted_again_by_its_rule_but_progress_follows():
    (rule,) = create_rules({"fiver": ("run", "count", 2)}).values()
    ann = UserFactory(username="ann")
    send("ann", "1", "run")
    send("ann", "2", "run")
    award_revoke(user=ann, achievement=rule)

    assert Progress.objects.get().steps == 2
    send("ann", "3", "run")
    assert not Award.objects.exists()
    assert Progress.objects.get().steps == 2

    award_grant(user=ann, achievement=rule)
    assert Award.objects.count() == 1
    assert Progress.objects.get().rule_revoked is False


def test_a_revocation_of_a_rule_driven_achievement_keeps_the_measure_as_progress():
    (rule,) = create_rules({"big": ("run", "count", 10)}).values()
    ann = UserFactory(username="ann")
    award_grant(user=ann, achievement=rule)
    send("ann", "1", "run")

    award_revoke(user=ann, achievement=rule)

    progress = Progress.objects.get()
    assert (progress.steps, progress.rule_revoked) == (1, True)


def test_a_rule_added_later_grants_at_once_to_those_past_the_goal():
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    for n in range(4):
        send("ann", f"a{n}", "swim", days_ago=n)
    send("bob", "b0", "swim")
    (achievement,) = create_rules({"swimmer": ("other", "count", 3)}).values()
    assert not Award.objects.exists()

    before = timezone.now()
    achievement_update(achievement=achievement, rule={"event": "swim", "measure": "days"})

    award = Award.objects.get()
    assert award.user == ann
    assert award.awarded_at >= before
    assert stored_steps() == {("ann", "swimmer"): 3, ("bob", "swimmer"): 1}
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert (ann.achievements_count, ann.points, bob.achievements_count) == (1, 10, 0)
    assert figures_mismatches() == []


def test_a_rule_change_does_not_regrant_a_revoked_award():
    ann = UserFactory(username="ann")
    send("ann", "1", "swim")
    (achievement,) = create_rules({"swimmer": ("swim", "count", 1)}).values()
    award_revoke(user=ann, achievement=achievement)

    achievement_update(achievement=achievement, rule={"event": "swim", "measure": "days"})

    assert not Award.objects.exists()


def test_removing_a_rule_leaves_progress_and_awards():
    UserFactory(username="ann")
    (achievement,) = create_rules({"fiver": ("run", "count", 5)}).values()
    send("ann", "1", "run")

    achievement_update(achievement=achievement, rule=None)
    send("ann", "2", "run")

    achievement.refresh_from_db()
    assert achievement.rule is None
    assert Progress.objects.get().steps == 1


def test_an_achievement_without_a_rule_ignores_events():
    achievement_create(code="plain", points=5, goal=3, names={"en": "p"}, descriptions={"en": "p"})
    UserFactory(username="ann")
    send("ann", "1", "plain")

    assert not Progress.objects.exists()
    assert Achievement.objects.get().rule is None


def test_a_rule_grant_is_in_the_feed_and_the_period_boards_like_any_grant():
    from achievements.models import Activity
    from achievements.services.figures import period_figures_check

    create_rules({"regular": ("login", "count", 2)})
    UserFactory(username="ann")
    moment = timezone.now() - timedelta(days=3)
    events_record(
        events=[
            {"id": f"ann-{n}", "user": "ann", "type": "login", "occurred_at": moment.isoformat()}
            for n in range(3)
        ]
    )

    entry = Activity.objects.get(type=Activity.GRANTED, achievement="regular")
    assert (entry.user, entry.at, entry.points) == ("ann", stored_awards()[("ann", "regular")], 10)
    assert period_figures_check() == []
    assert figures_mismatches() == []


def test_a_rule_added_later_grants_into_the_feed_and_the_period_boards():
    from achievements.models import Activity
    from achievements.services.figures import period_figures_check

    UserFactory(username="ann")
    events_record(events=[{"id": f"ann-{n}", "user": "ann", "type": "login"} for n in range(3)])

    create_rules({"regular": ("login", "count", 2)})

    assert Activity.objects.filter(type=Activity.GRANTED, user="ann").count() == 1
    assert period_figures_check() == []
