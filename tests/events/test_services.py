"""events_record: what is stored, what is a duplicate, and measures equal to the oracle."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from events.models import Event, EventDay, Measure
from events.services import event_day, events_record, measures_check, measures_rebuild
from tests.events.oracle import EventRow, measures
from tests.factories import UserFactory


def stored_measures() -> dict:
    return {
        (m.user.username, m.type): {
            "count": m.event_count,
            "sum": m.value_sum,
            "days": m.days,
            "longest_streak": m.longest_streak,
            "last_occurred_at": m.last_occurred_at,
        }
        for m in Measure.objects.select_related("user")
    }


def random_history(usernames, rng: random.Random, count: int, now: datetime) -> list[dict]:
    """`count` events over the last 40 days in random order, about one in six reusing the id
    (and not the content) of an earlier one."""
    events = []
    for n in range(count):
        reuse = events and rng.random() < 0.16
        event_id = rng.choice(events)["id"] if reuse else f"e-{n}"
        events.append(
            {
                "id": event_id,
                "user": rng.choice(usernames),
                "type": rng.choice(["login", "quiz.passed", "steps"]),
                "value": rng.randint(0, 50),
                "occurred_at": (
                    now - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
                ).isoformat(),
            }
        )
    return events


def first_of_each_id(events: list[dict]) -> list[EventRow]:
    seen, rows = set(), []
    for event in events:
        if event["id"] in seen:
            continue
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


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_measures_equal_the_oracle_over_random_out_of_order_history(seed, settings):
    # A zone far from UTC puts many events on another day than their UTC date.
    settings.TIME_ZONE = "Pacific/Kiritimati"
    rng = random.Random(seed)
    usernames = [UserFactory().username for _ in range(6)]
    events = random_history(usernames, rng, 1500, timezone.now())
    for start in range(0, len(events), 137):
        events_record(events=events[start : start + 137])

    expected = measures(first_of_each_id(events), ZoneInfo("Pacific/Kiritimati"))
    assert stored_measures() == expected
    assert Event.objects.count() == len({e["id"] for e in events})
    assert measures_check() == []


@pytest.mark.django_db
def test_a_duplicate_changes_nothing_whatever_it_carries():
    user = UserFactory()
    events_record(events=[{"id": "a", "user": user.username, "type": "run", "value": 5}])

    results = events_record(
        events=[{"id": "a", "user": user.username, "type": "jump", "value": 99}]
    )

    assert [r.status for r in results] == ["duplicate"]
    assert stored_measures()[(user.username, "run")]["sum"] == 5
    assert not Measure.objects.filter(type="jump").exists()


@pytest.mark.django_db
def test_the_first_of_an_id_repeated_in_one_batch_counts():
    user = UserFactory()
    results = events_record(
        events=[
            {"id": "x", "user": user.username, "type": "run", "value": 3},
            {"id": "x", "user": user.username, "type": "run", "value": 7},
        ]
    )

    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert stored_measures()[(user.username, "run")]["sum"] == 3


@pytest.mark.django_db
def test_a_rejected_id_can_be_sent_again_corrected():
    user = UserFactory()
    first = events_record(events=[{"id": "r", "user": user.username, "type": "Bad Type"}])
    second = events_record(events=[{"id": "r", "user": user.username, "type": "good"}])

    assert first[0].status == "rejected"
    assert list(first[0].errors) == ["type"]
    assert second[0].status == "accepted"


@pytest.mark.django_db
def test_a_repeated_id_after_a_rejected_first_is_accepted():
    user = UserFactory()
    results = events_record(
        events=[
            {"id": "z", "user": "nobody", "type": "run"},
            {"id": "z", "user": user.username, "type": "run"},
        ]
    )

    assert [r.status for r in results] == ["rejected", "accepted"]
    assert results[0].errors == {"user": ["Unknown user 'nobody'."]}


@pytest.mark.django_db
def test_usernames_are_found_in_any_case():
    user = UserFactory(username="Alice")
    results = events_record(events=[{"id": "1", "user": "aLICE", "type": "run"}])

    assert results[0].status == "accepted"
    assert Event.objects.get().user == user


@pytest.mark.django_db
def test_events_without_a_time_count_now_with_value_one():
    user = UserFactory()
    events_record(events=[{"id": "1", "user": user.username, "type": "run"}])

    measure = Measure.objects.get()
    assert (measure.event_count, measure.value_sum, measure.days) == (1, 1, 1)
    assert timezone.now() - measure.last_occurred_at < timedelta(minutes=1)


def test_days_are_taken_in_the_given_zone():
    moment = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)

    assert event_day(moment, ZoneInfo("UTC")).isoformat() == "2024-03-01"
    assert event_day(moment, ZoneInfo("Asia/Tokyo")).isoformat() == "2024-03-02"


@pytest.mark.django_db
def test_a_back_dated_event_joins_two_runs_into_one_streak():
    user = UserFactory()
    base = timezone.now() - timedelta(days=10)

    def send(event_id, days_later):
        at = (base + timedelta(days=days_later)).isoformat()
        events_record(
            events=[{"id": event_id, "user": user.username, "type": "t", "occurred_at": at}]
        )

    for event_id, day in [("a", 0), ("b", 1), ("c", 3), ("d", 4)]:
        send(event_id, day)
    assert Measure.objects.get().longest_streak == 2
    send("e", 2)

    assert Measure.objects.get().longest_streak == 5


@pytest.mark.django_db
def test_the_check_names_a_wrong_measure_and_the_rebuild_corrects_it():
    user = UserFactory(username="bob")
    events_record(events=[{"id": "1", "user": "bob", "type": "run", "value": 4}])
    Measure.objects.update(value_sum=40)
    EventDay.objects.update(event_count=9)

    found = measures_check()
    assert [m.name for m in found] == ["bob · run"]
    assert (found[0].stored["value_sum"], found[0].expected["value_sum"]) == (40, 4)

    assert len(measures_rebuild()) == 1
    assert measures_check() == []
    assert EventDay.objects.get().event_count == 1
    assert Measure.objects.get(user=user).value_sum == 4


@pytest.mark.django_db
def test_more_than_a_batch_in_one_call_is_refused():
    with pytest.raises(ValueError):
        events_record(events=[{}] * 1001)
