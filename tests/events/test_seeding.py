"""The demo players' events: sent through events_record by the demo seeding, so rule-driven
achievements are earned in the demo exactly as the rules say, and only by demo players."""

from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from achievements.models import Achievement, Award
from achievements.seeding import BENCH_USERNAME_PREFIX, load_catalog
from events.models import Event, EventDay, Measure
from events.seeding import demo_events_seed
from tests.events.oracle import EventRow, measures
from tests.events.test_services import stored_measures
from users.models import User

pytestmark = pytest.mark.django_db

KEYS = {"count": "count", "sum": "sum", "days": "days", "streak": "longest_streak"}


def seed(*args) -> None:
    call_command("seed_demo_data", *args, stdout=StringIO(), verbosity=0)


def raw_events() -> list[EventRow]:
    return [
        EventRow(username, type_, value, at)
        for username, type_, value, at in Event.objects.values_list(
            "user__username", "type", "value", "occurred_at"
        )
    ]


def test_the_demo_catalog_has_a_rule_of_each_measure_in_both_languages():
    ruled = [a for a in load_catalog()["achievements"] if a.get("rule")]

    assert {a["rule"]["measure"] for a in ruled} == set(KEYS)
    for entry in ruled:
        assert entry["goal"] > 1
        for field in ("name_en", "name_ru", "description_en", "description_ru"):
            assert entry[field].strip(), (entry["code"], field)


def test_the_demo_events_earn_exactly_what_the_rules_say():
    seed()

    zones = {u.username: ZoneInfo(u.time_zone) for u in User.objects.all()}
    oracle = measures(raw_events(), zones)
    assert stored_measures() == oracle
    held = set(Award.objects.values_list("user__username", "achievement__code"))
    ruled = Achievement.objects.exclude(rule_event=None)
    assert ruled.count() == 4
    for achievement in ruled:
        rule = achievement.rule
        reached = {
            username
            for (username, type_), figures in oracle.items()
            if type_ == rule["event"] and figures[KEYS[rule["measure"]]] >= achievement.goal
        }
        holders = {u for u, code in held if code == achievement.code}
        assert holders == reached, achievement.code
        # Believable: some players earn it, not everyone.
        assert 0 < len(holders) < User.objects.count(), achievement.code
    call_command("rebuild_stats", "--check", stdout=StringIO())


def test_a_second_seed_sends_only_duplicates_and_the_history_is_the_seeds():
    seed()
    sent = set(Event.objects.values_list("event_id", "user__username", "type", "value"))
    awards = Award.objects.count()

    seed()
    assert Event.objects.count() == len(sent)
    assert Award.objects.count() == awards

    # The same seed gives the same history, whenever it runs.
    Event.objects.all().delete()
    EventDay.objects.all().delete()
    Measure.objects.all().delete()
    users = {u.username: u for u in User.objects.all()}
    demo_events_seed(users=users, seed=2024, now=timezone.now())
    assert set(Event.objects.values_list("event_id", "user__username", "type", "value")) == sent


def test_benchmark_users_get_no_events():
    seed("--users", "30", "--awards", "60")

    assert Event.objects.count() > 0
    assert not Event.objects.filter(user__username__startswith=BENCH_USERNAME_PREFIX).exists()
