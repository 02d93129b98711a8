"""Batches of events racing each other through the API, on real threads and PostgreSQL.

Every batch names users that other batches name too, in other orders, and retries of the same
ids race their originals: each event must count once, with no deadlock, and the measures must
equal the oracle over the raw events.
"""

import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from achievements.models import Award, Progress
from achievements.queries import figures_mismatches
from achievements.services.catalog import achievement_create, achievement_update
from events.models import Event
from events.services import measures_check
from tests.events.oracle import EventRow, measures
from tests.events.test_services import stored_measures
from tests.factories import UserFactory
from tests.helpers import run_together, token_client
from users.models import User
from users.services import user_update

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks; SQLite runs one write transaction at a time",
    ),
]

THREADS = 6
RULES = {
    "regular": ("login", "count", 40),
    "earner": ("xp", "sum", 20_000),
    "habit": ("lesson.done", "days", 15),
    "streaker": ("login", "streak", 3),
}
# The rule this test keeps changing while batches run: (event type, measure) in turn.
TOGGLED = [("lesson.done", "count"), ("xp", "days"), ("login", "days")]
JOIN_TIMEOUT = 120


@pytest.mark.parametrize("seed", [1, 2])
def test_racing_batches_with_retries_count_each_event_once(seed, integration_token):
    rng = random.Random(seed)
    usernames = [UserFactory().username for _ in range(12)]
    now = timezone.now()
    # 2,400 distinct events over the last 60 days; each thread sends a random half of them,
    # in its own random order, in batches of 1 to 300: every event is sent about three times.
    events = [
        {
            "id": f"ev-{seed}-{n}",
            "user": rng.choice(usernames).upper() if n % 7 == 0 else rng.choice(usernames),
            "type": rng.choice(["login", "lesson.done", "xp"]),
            "value": rng.randint(0, 1000),
            "occurred_at": (
                now - timedelta(days=rng.randint(0, 60), seconds=rng.randint(0, 86_400))
            ).isoformat(),
        }
        for n in range(2400)
    ]
    plans = []
    for _ in range(THREADS):
        mine = rng.sample(events, len(events) // 2)
        batches, start = [], 0
        while start < len(mine):
            size = rng.randint(1, 300)
            batches.append(mine[start : start + size])
            start += size
        plans.append(batches)

    achievements = {
        code: achievement_create(
            code=code,
            points=5,
            goal=goal,
            names={"en": code},
            descriptions={"en": code},
            rule={"event": type_, "measure": measure},
        )
        for code, (type_, measure, goal) in {**RULES, "toggled": (*TOGGLED[0], 10)}.items()
    }

    def toggle() -> None:
        for n in range(1, 7):
            event, measure = TOGGLED[n % len(TOGGLED)]
            achievement_update(
                achievement=achievements["toggled"], rule={"event": event, "measure": measure}
            )
            time.sleep(0.2)

    accepted = [0] * THREADS

    def work(index: int) -> None:
        client = token_client(integration_token)
        for batch in plans[index]:
            response = client.post("/api/v1/events/", {"events": batch}, format="json")
            assert response.status_code == 200, response.content[:200]
            accepted[index] += response.json()["accepted"]

    run_together([*(lambda i=i: work(i) for i in range(THREADS)), toggle], JOIN_TIMEOUT)

    sent = {e["id"]: e for batches in plans for batch in batches for e in batch}
    assert sum(accepted) == len(sent) == Event.objects.count()
    oracle = measures(
        [
            EventRow(
                e["user"].lower(), e["type"], e["value"], datetime.fromisoformat(e["occurred_at"])
            )
            for e in sent.values()
        ],
        ZoneInfo(settings.TIME_ZONE),
    )
    assert stored_measures() == oracle
    assert measures_check() == []
    assert figures_mismatches() == []

    final_event, final_measure = TOGGLED[6 % len(TOGGLED)]
    rules = {**RULES, "toggled": (final_event, final_measure, 10)}
    keys = {"count": "count", "sum": "sum", "days": "days", "streak": "longest_streak"}
    held = set(Award.objects.values_list("user__username", "achievement__code"))
    steps = {
        (p.user.username, p.achievement.code): p.steps
        for p in Progress.objects.select_related("user", "achievement")
    }
    for username in {u.lower() for u in usernames}:
        for code, (type_, measure, goal) in rules.items():
            value = oracle.get((username, type_), {}).get(keys[measure], 0)
            if code != "toggled":
                # Every rule held still: held exactly when the measure reached the goal.
                assert ((username, code) in held) == (value >= goal), (username, code)
            if (username, code) in held:
                assert steps[(username, code)] == goal
            else:
                # Progress follows the measure of the rule as it stands, capped at the goal.
                assert value < goal
                assert steps.get((username, code), 0) == value


ZONES = ["UTC", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Kiritimati"]


def test_zone_changes_racing_batches_leave_every_day_in_the_final_zone(integration_token):
    rng = random.Random(9)
    users = [UserFactory(time_zone=rng.choice(ZONES)) for _ in range(8)]
    usernames = [u.username for u in users]
    now = timezone.now()
    events = [
        {
            "id": f"zone-{n}",
            "user": rng.choice(usernames),
            "type": rng.choice(["login", "lesson.done", "xp"]),
            "value": rng.randint(0, 1000),
            # Many near a UTC midnight, where zones disagree about the day.
            "occurred_at": (
                (now - timedelta(days=rng.randint(1, 30))).replace(hour=0, minute=0)
                + timedelta(minutes=rng.randint(-400, 400))
            ).isoformat(),
        }
        for n in range(1600)
    ]
    plans = []
    for _ in range(THREADS - 1):
        mine = rng.sample(events, len(events) // 2)
        plans.append([mine[start : start + 100] for start in range(0, len(mine), 100)])
    for code, (type_, measure, goal) in RULES.items():
        achievement_create(
            code=code,
            points=5,
            goal=goal,
            names={"en": code},
            descriptions={"en": code},
            rule={"event": type_, "measure": measure},
        )
    changes = [(rng.choice(users).pk, rng.choice(ZONES)) for _ in range(24)]

    def work(index: int) -> None:
        client = token_client(integration_token)
        for batch in plans[index]:
            response = client.post("/api/v1/events/", {"events": batch}, format="json")
            assert response.status_code == 200, response.content[:200]

    def rezone() -> None:
        for user_id, zone in changes:
            user_update(user=User.objects.get(pk=user_id), time_zone=zone)
            time.sleep(0.05)

    run_together([*(lambda i=i: work(i) for i in range(THREADS - 1)), rezone], JOIN_TIMEOUT)

    sent = {e["id"]: e for batches in plans for batch in batches for e in batch}
    zones = {
        u.username: ZoneInfo(u.time_zone) for u in User.objects.filter(pk__in=[u.pk for u in users])
    }
    oracle = measures(
        [
            EventRow(e["user"], e["type"], e["value"], datetime.fromisoformat(e["occurred_at"]))
            for e in sent.values()
        ],
        zones,
    )
    assert stored_measures() == oracle
    assert measures_check() == []
    assert figures_mismatches() == []
    keys = {"count": "count", "sum": "sum", "days": "days", "streak": "longest_streak"}
    held = set(Award.objects.values_list("user__username", "achievement__code"))
    steps = {
        (p.user.username, p.achievement.code): p.steps
        for p in Progress.objects.select_related("user", "achievement")
    }
    for username in usernames:
        for code, (type_, measure, goal) in RULES.items():
            value = oracle.get((username, type_), {}).get(keys[measure], 0)
            if (username, code) in held:
                # Held at the goal, even where a zone change took the measure below it.
                assert steps[(username, code)] == goal
            else:
                # Never missed: whatever reaches the goal in the final zone is granted.
                assert value < goal, (username, code)
                assert steps.get((username, code), 0) == value
