"""Event days in each user's own time zone: ingestion, the set-based check and rebuild, and a
change of zone, all against the brute-force oracle over the raw events.

The service's TIME_ZONE is set to a zone no user has, so a day taken in the wrong zone shows.
Events cluster around local midnights and the 2024 daylight-saving changes of New York and
Lord Howe (a half-hour shift), and users sit in zones with odd offsets (Kathmandu +5:45,
St John's -3:30, Kiritimati +14).
"""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from achievements.models import Award, Progress
from achievements.queries import figures_mismatches
from achievements.services.awards import award_revoke
from events.models import EventDay, Measure
from events.services import events_record, measures_check, measures_rebuild
from tests.events.oracle import EventRow, measures, rule_outcomes
from tests.events.test_rules import create_rules, stored_awards, stored_steps
from tests.events.test_services import stored_measures
from tests.factories import UserFactory
from users.services import user_update

pytestmark = pytest.mark.django_db

ZONES = [
    "UTC",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "America/St_Johns",
]
# Days around the 2024 DST changes: New York 10 March and 3 November, Lord Howe 7 April and
# 6 October.
AROUND = [datetime(2024, 3, 10), datetime(2024, 4, 7), datetime(2024, 10, 6), datetime(2024, 11, 3)]
RULES = {
    "regular": ("login", "count", 6),
    "collector": ("xp", "sum", 150),
    "habitual": ("login", "days", 5),
    "scholar": ("lesson", "streak", 3),
    "devoted": ("lesson", "days", 4),
}
KEYS = {"count": "count", "sum": "sum", "days": "days", "streak": "longest_streak"}


def users_in_zones(rng: random.Random, count: int) -> dict[str, str]:
    return {
        UserFactory(time_zone=zone).username: zone
        for zone in [ZONES[n % len(ZONES)] for n in range(count)]
    }


def near_midnight(rng: random.Random, zone: str) -> datetime:
    """A moment within 90 minutes of a local midnight in `zone`, a few days around a DST
    change."""
    day = rng.choice(AROUND) + timedelta(days=rng.randint(-4, 4))
    midnight = day.replace(tzinfo=ZoneInfo(zone))
    return (midnight + timedelta(minutes=rng.randint(-90, 90))).astimezone(UTC)


def history(rng: random.Random, zones: dict[str, str], count: int) -> list[dict]:
    """`count` events in random order, each near a midnight of a random zone (its user's or
    another's, so the user's zone decides the day), some ids repeated with other content."""
    events = []
    for n in range(count):
        reuse = events and rng.random() < 0.1
        events.append(
            {
                "id": rng.choice(events)["id"] if reuse else f"tz-{n}",
                "user": rng.choice(list(zones)),
                "type": rng.choice(["login", "xp", "lesson"]),
                "value": rng.randint(0, 30),
                "occurred_at": near_midnight(rng, rng.choice(ZONES)).isoformat(),
            }
        )
    return events


def send_in_batches(rng: random.Random, events: list[dict]) -> None:
    start = 0
    while start < len(events):
        size = rng.randint(1, 80)
        events_record(events=events[start : start + size])
        start += size


def arrivals(events: list[dict]) -> list[EventRow]:
    seen, rows = set(), []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            rows.append(
                EventRow(
                    event["user"],
                    event["type"],
                    event["value"],
                    datetime.fromisoformat(event["occurred_at"]),
                )
            )
    return rows


def stored_days() -> dict:
    days = defaultdict(set)
    for row in EventDay.objects.select_related("user"):
        days[(row.user.username, row.type)].add(row.day)
    return dict(days)


def oracle_days(rows: list[EventRow], zones: dict[str, ZoneInfo]) -> dict:
    days = defaultdict(set)
    for row in rows:
        days[(row.username, row.type)].add(row.occurred_at.astimezone(zones[row.username]).date())
    return dict(days)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_days_measures_and_rules_follow_each_users_zone(seed, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    rng = random.Random(seed)
    create_rules(RULES)
    zones = users_in_zones(rng, 12)
    events = history(rng, zones, 1200)
    send_in_batches(rng, events)

    rows = arrivals(events)
    tz = {name: ZoneInfo(zone) for name, zone in zones.items()}
    assert stored_days() == oracle_days(rows, tz)
    assert stored_measures() == measures(rows, tz)
    steps, awards = rule_outcomes(rows, RULES, tz)
    assert stored_steps() == steps
    assert stored_awards() == awards
    assert len(awards) >= 10
    assert measures_check() == []
    assert figures_mismatches() == []


def test_the_rebuild_takes_each_users_zone(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    rng = random.Random(7)
    zones = users_in_zones(rng, 6)
    events = history(rng, zones, 600)
    send_in_batches(rng, events)
    EventDay.objects.all().delete()
    Measure.objects.update(days=0, longest_streak=0)

    assert measures_check() != []
    assert measures_rebuild() != []

    rows = arrivals(events)
    tz = {name: ZoneInfo(zone) for name, zone in zones.items()}
    assert stored_days() == oracle_days(rows, tz)
    assert stored_measures() == measures(rows, tz)
    assert measures_check() == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_zone_change_moves_days_progress_and_grants_but_never_revokes(seed, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    rng = random.Random(seed)
    achievements = create_rules(RULES)
    zones = users_in_zones(rng, 12)
    events = history(rng, zones, 1200)
    send_in_batches(rng, events)
    # One award revoked: no zone change may give it back.
    revoked = rng.choice(list(Award.objects.select_related("user", "achievement")))
    award_revoke(user=revoked.user, achievement=revoked.achievement)
    revoked_key = (revoked.user.username, revoked.achievement.code)
    held_before = set(stored_awards())
    changed_at = timezone.now()

    new_zones = {name: rng.choice([z for z in ZONES if z != zone]) for name, zone in zones.items()}
    users = {u.username: u for u in type(revoked.user).objects.filter(username__in=zones)}
    for name, zone in new_zones.items():
        user_update(user=users[name], time_zone=zone)

    rows = arrivals(events)
    tz = {name: ZoneInfo(zone) for name, zone in new_zones.items()}
    oracle = measures(rows, tz)
    assert stored_days() == oracle_days(rows, tz)
    assert stored_measures() == oracle
    held_after = stored_awards()
    steps = stored_steps()
    assert held_before <= set(held_after)
    assert revoked_key not in held_after
    for name in zones:
        for code, (type_, measure, goal) in RULES.items():
            value = oracle.get((name, type_), {}).get(KEYS[measure], 0)
            key = (name, code)
            if key in held_after:
                assert steps[key] == goal
                if key not in held_before:
                    # Granted by the zone change itself: dated at the change.
                    assert value >= goal
                    assert held_after[key] >= changed_at
            else:
                assert value < goal or key == revoked_key
                assert steps.get(key, 0) == min(value, goal)
    assert Progress.objects.get(
        user=revoked.user, achievement=achievements[revoked.achievement.code]
    ).rule_revoked
    assert measures_check() == []
    assert figures_mismatches() == []


def two_events_across_utc_midnight(username: str) -> None:
    events_record(
        events=[
            {"id": "late", "user": username, "type": "login", "occurred_at": "2024-05-01T23:30Z"},
            {"id": "early", "user": username, "type": "login", "occurred_at": "2024-05-02T00:30Z"},
        ]
    )


def test_a_zone_change_keeps_an_award_its_measure_no_longer_reaches():
    (two_days,) = create_rules({"two-days": ("login", "days", 2)}).values()
    user = UserFactory(time_zone="UTC")
    two_events_across_utc_midnight(user.username)
    assert Award.objects.filter(user=user, achievement=two_days).exists()

    # In Kathmandu (+5:45) both events fall on 2 May.
    user_update(user=user, time_zone="Asia/Kathmandu")

    measure = Measure.objects.get(user=user, type="login")
    assert (measure.days, measure.longest_streak) == (1, 1)
    assert Award.objects.filter(user=user, achievement=two_days).exists()
    assert Progress.objects.get(user=user, achievement=two_days).steps == 2


def test_a_zone_change_grants_what_the_new_days_reach(api):
    (two_days,) = create_rules({"two-days": ("login", "days", 2)}).values()
    user = UserFactory(time_zone="Asia/Kathmandu")
    two_events_across_utc_midnight(user.username)
    assert not Award.objects.filter(user=user, achievement=two_days).exists()
    assert Progress.objects.get(user=user, achievement=two_days).steps == 1
    before = timezone.now()

    response = api.patch(f"/api/v1/users/{user.username}/", {"time_zone": "UTC"})

    assert response.status_code == 200
    measure = Measure.objects.get(user=user, type="login")
    assert (measure.days, measure.longest_streak) == (2, 2)
    award = Award.objects.get(user=user, achievement=two_days)
    assert award.awarded_at >= before
    assert Progress.objects.get(user=user, achievement=two_days).steps == 2
    assert figures_mismatches() == []


def test_the_same_zone_again_changes_nothing():
    user = UserFactory(time_zone="America/New_York")
    two_events_across_utc_midnight(user.username)
    days = stored_days()

    user_update(user=user, time_zone="America/New_York")

    assert stored_days() == days == {(user.username, "login"): {datetime(2024, 5, 1).date()}}
