"""POST /api/v1/events/ and GET /api/v1/users/{username}/events/ as the contract says."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from events.models import Event, Measure
from tests.factories import UserFactory

EVENTS = "/api/v1/events/"


def post(client, body):
    return client.post(EVENTS, body, format="json")


@pytest.fixture
def player(db):
    return UserFactory(username="player")


def test_one_event_is_accepted_with_the_batch_shape(api, player):
    response = post(api, {"id": "e1", "user": "player", "type": "level.done", "value": 3})

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"id": "e1", "status": "accepted", "unlocked": []}],
    }
    assert Event.objects.get().value == 3


def test_a_batch_answers_each_event_in_request_order(api, player):
    post(api, {"id": "old", "user": "player", "type": "run"})

    response = post(
        api,
        {
            "events": [
                {"id": "b", "user": "player", "type": "run"},
                {"id": "old", "user": "player", "type": "run"},
                {"id": "c", "user": "ghost", "type": "run"},
                {"id": "a", "user": "player", "type": "run", "value": 2},
                {"id": "b", "user": "player", "type": "run"},
            ]
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 2, 1)
    assert [(r["id"], r["status"]) for r in body["results"]] == [
        ("b", "accepted"),
        ("old", "duplicate"),
        ("c", "rejected"),
        ("a", "accepted"),
        ("b", "duplicate"),
    ]
    assert body["results"][2]["errors"] == {"user": ["Unknown user 'ghost'."]}
    assert Measure.objects.get().event_count == 3


def test_a_bare_list_is_a_batch(api, player):
    response = post(api, [{"id": "1", "user": "player", "type": "run"}])

    assert response.json()["accepted"] == 1


def future():
    return (timezone.now() + timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"id": 17}, "id"),
        ({"id": "nul\x00"}, "id"),
        ({"user": "nobody"}, "user"),
        ({"user": 5}, "user"),
        ({"user": "bad name"}, "user"),
        ({"type": "Upper"}, "type"),
        ({"type": ""}, "type"),
        ({"type": "t" * 65}, "type"),
        ({"type": "with space"}, "type"),
        ({"type": 3}, "type"),
        ({"type": None}, "type"),
        ({"value": -1}, "value"),
        ({"value": 1_000_000_001}, "value"),
        ({"value": "5"}, "value"),
        ({"value": 1.5}, "value"),
        ({"value": 2.0}, "value"),
        ({"value": True}, "value"),
        ({"value": None}, "value"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": 1700000000}, "occurred_at"),
        ({"occurred_at": "1969-12-31T23:59:59Z"}, "occurred_at"),
        ({"occurred_at": "2024-02-30T10:00:00Z"}, "occurred_at"),
        ({"occurred_at": "future"}, "occurred_at"),
    ],
)
def test_a_bad_event_is_rejected_naming_its_field_and_the_rest_go_in(api, player, change, field):
    bad = {"id": "bad", "user": "player", "type": "run", **change}
    if change.get("occurred_at") == "future":
        bad["occurred_at"] = future()
    good = {"id": "good", "user": "player", "type": "run"}

    response = post(api, {"events": [good, bad]})

    body = response.json()
    assert response.status_code == 200
    assert body["results"][0]["status"] == "accepted"
    assert body["results"][1]["status"] == "rejected"
    assert list(body["results"][1]["errors"]) == [field]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["good"]


def test_a_missing_field_is_named(api, player):
    response = post(api, {"events": [{"value": 3}]})

    errors = response.json()["results"][0]["errors"]
    assert set(errors) == {"id", "user", "type"}
    assert response.json()["results"][0]["id"] is None


def test_an_event_that_is_not_an_object_is_rejected_alone(api, player):
    response = post(api, {"events": ["text", {"id": "1", "user": "player", "type": "run"}]})

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert "non_field_errors" in results[0]["errors"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '"a string"',
        "17",
        "null",
        "[]",
        "{}",
        '{"events": []}',
        '{"events": {"id": "1"}}',
        '{"events": "many"}',
        json.dumps(
            {"events": [{"id": str(n), "user": "player", "type": "t"} for n in range(1001)]}
        ),
    ],
    ids=[
        "not-json",
        "string",
        "number",
        "null",
        "empty-list",
        "empty-object",
        "no-events",
        "events-object",
        "events-string",
        "1001-events",
    ],
)
def test_a_malformed_body_is_a_400_and_stores_nothing(api, player, body):
    response = api.post(EVENTS, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()
    assert not Event.objects.exists()


def test_a_thousand_events_are_taken_at_once(api, player):
    events = [{"id": str(n), "user": "player", "type": "t"} for n in range(1000)]

    response = post(api, {"events": events})

    assert response.json()["accepted"] == 1000


def test_sending_events_needs_credentials(anonymous, player):
    response = post(anonymous, {"id": "1", "user": "player", "type": "run"})

    assert response.status_code == 401
    assert not Event.objects.exists()


def test_sending_events_needs_the_permission_to_add_awards(unprivileged, player):
    response = post(unprivileged, {"id": "1", "user": "player", "type": "run"})

    assert response.status_code == 403
    assert not Event.objects.exists()


def test_events_cannot_be_listed(api):
    assert api.get(EVENTS).status_code == 405


def test_the_event_records_who_sent_it(api, player, integration_account):
    post(api, {"id": "1", "user": "player", "type": "run"})

    assert Event.objects.get().sent_by == integration_account


def test_a_users_measures_read_per_type_by_type(api, anonymous, player):
    day = datetime(2024, 5, 1, 12, tzinfo=UTC)
    events = [
        {"id": "1", "user": "player", "type": "swim", "value": 10, "occurred_at": day.isoformat()},
        {
            "id": "2",
            "user": "player",
            "type": "swim",
            "value": 5,
            "occurred_at": (day + timedelta(days=1)).isoformat(),
        },
        {"id": "3", "user": "player", "type": "run", "occurred_at": day.isoformat()},
        {
            "id": "4",
            "user": "player",
            "type": "swim",
            "value": 0,
            "occurred_at": (day + timedelta(days=3)).isoformat(),
        },
    ]
    post(api, {"events": events})

    response = anonymous.get("/api/v1/users/PLAYER/events/")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert response.json()["results"] == [
        {
            "type": "run",
            "count": 1,
            "sum": 1,
            "days": 1,
            "longest_streak": 1,
            "last_occurred_at": "2024-05-01T12:00:00Z",
        },
        {
            "type": "swim",
            "count": 3,
            "sum": 15,
            "days": 3,
            "longest_streak": 2,
            "last_occurred_at": "2024-05-04T12:00:00Z",
        },
    ]


def test_measures_of_an_unknown_user_are_a_404(anonymous, db):
    assert anonymous.get("/api/v1/users/nobody/events/").status_code == 404


def test_a_user_without_events_has_no_measures(anonymous, player):
    assert anonymous.get("/api/v1/users/player/events/").json()["results"] == []


def test_reading_measures_takes_a_fixed_number_of_queries(
    api, anonymous, player, django_assert_max_num_queries
):
    events = [{"id": str(n), "user": "player", "type": f"type-{n % 30}"} for n in range(300)]
    post(api, {"events": events})

    with django_assert_max_num_queries(3):
        response = anonymous.get("/api/v1/users/player/events/?limit=100")
    assert len(response.json()["results"]) == 30


def test_sending_a_batch_takes_a_fixed_number_of_queries(
    api, player, django_assert_max_num_queries
):
    users = [UserFactory().username for _ in range(20)]
    events = [{"id": str(n), "user": users[n % 20], "type": f"t{n % 7}"} for n in range(1000)]

    # Token and permission lookups, then: users, events, per-day rows, measures.
    with django_assert_max_num_queries(12):
        response = post(api, {"events": events})
    assert response.json()["accepted"] == 1000
