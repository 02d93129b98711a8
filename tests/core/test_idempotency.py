"""Idempotency-Key on every POST under /api/: stored, replayed, refused when misused."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from achievements.accounts import integration_account_ensure
from achievements.models import Achievement, Award, Progress
from core.models import IdempotencyRecord
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client
from users.models import User

KEY = "HTTP_IDEMPOTENCY_KEY"


def _users_create():
    return (
        "/api/v1/users/",
        {"username": "newcomer", "language": "ru"},
        lambda: User.objects.count(),
    )


def _achievements_create():
    body = {"points": 5, "name_en": "Early bird", "description_en": "Up at dawn.", "goal": 3}
    return "/api/v1/achievements/", body, lambda: Achievement.objects.count()


def _awards_create():
    UserFactory(username="holder")
    AchievementFactory(code="first")
    return (
        "/api/v1/users/holder/achievements/",
        {"achievement": "first"},
        lambda: Award.objects.count(),
    )


def _progress_create():
    UserFactory(username="learner")
    AchievementFactory(code="cards", goal=100)
    return (
        "/api/v1/users/learner/progress/",
        {"achievement": "cards", "increment": 7},
        lambda: sum(Progress.objects.values_list("steps", flat=True)),
    )


# Every POST endpoint of the API: (path, body, what the POST changes).
EVERY_POST = {
    "users": _users_create,
    "achievements": _achievements_create,
    "awards": _awards_create,
    "progress": _progress_create,
}


@pytest.mark.parametrize("endpoint", sorted(EVERY_POST))
def test_a_repeat_with_the_same_key_replays_the_first_response_and_changes_nothing(api, endpoint):
    path, body, effect = EVERY_POST[endpoint]()
    first = api.post(path, body, **{KEY: "retry-1"})
    after_first = effect()

    repeat = api.post(path, body, **{KEY: "retry-1"})

    assert first.status_code in (200, 201)
    assert "Idempotent-Replayed" not in first
    assert repeat.status_code == first.status_code
    assert repeat["Idempotent-Replayed"] == "true"
    assert repeat.content == first.content
    assert repeat["Content-Type"] == first["Content-Type"]
    assert effect() == after_first


@pytest.mark.parametrize("endpoint", sorted(EVERY_POST))
def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(api, endpoint):
    path, body, effect = EVERY_POST[endpoint]()
    api.post(path, body, **{KEY: "retry-2"})
    after_first = effect()

    other = api.post(path, {**body, "unexpected": 1}, **{KEY: "retry-2"})

    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert effect() == after_first


def test_the_body_is_compared_by_content_not_by_spacing(api):
    UserFactory(username="holder")
    AchievementFactory(code="first")
    path = "/api/v1/users/holder/achievements/"
    api.post(path, '{"achievement": "first"}', content_type="application/json", **{KEY: "k"})

    repeat = api.post(
        path, '{ "achievement":"first" }', content_type="application/json", **{KEY: "k"}
    )

    assert repeat["Idempotent-Replayed"] == "true"


def test_the_path_with_or_without_its_trailing_slash_is_the_same_request(api):
    api.post("/api/v1/users/", {"username": "slash"}, **{KEY: "k"})

    repeat = api.post("/api/v1/users", {"username": "slash"}, **{KEY: "k"})

    assert repeat.status_code == 201
    assert repeat["Idempotent-Replayed"] == "true"


def test_a_new_key_runs_the_request_again(api):
    AchievementFactory(code="cards", goal=100)
    UserFactory(username="learner")
    path = "/api/v1/users/learner/progress/"
    api.post(path, {"achievement": "cards", "increment": 1}, **{KEY: "a"})

    second = api.post(path, {"achievement": "cards", "increment": 1}, **{KEY: "b"})

    assert second.json()["steps"] == 2


def test_a_stored_error_is_replayed_too(api):
    first = api.post("/api/v1/users/", {"username": "bad name"}, **{KEY: "k"})
    repeat = api.post("/api/v1/users/", {"username": "bad name"}, **{KEY: "k"})

    assert first.status_code == 400
    assert (repeat.status_code, repeat["Idempotent-Replayed"]) == (400, "true")


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ключ", "tab\there"])
def test_a_malformed_key_is_a_400_and_nothing_runs(api, key):
    response = api.post("/api/v1/users/", {"username": "ok"}, **{KEY: key})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not User.objects.filter(username="ok").exists()


def test_the_longest_key_of_visible_ascii_is_accepted(api):
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3
    key = key[:255]

    assert api.post("/api/v1/users/", {"username": "ok"}, **{KEY: key}).status_code == 201
    assert IdempotencyRecord.objects.get().key == key


def test_keys_belong_to_one_credential_account(api):
    other = token_client(integration_account_ensure(name="another-integration"))
    api.post("/api/v1/users/", {"username": "one"}, **{KEY: "shared"})

    response = other.post("/api/v1/users/", {"username": "two"}, **{KEY: "shared"})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert User.objects.filter(username="two").exists()


def test_without_credentials_the_key_is_not_stored_and_the_answer_is_401(anonymous):
    response = anonymous.post("/api/v1/users/", {"username": "ok"}, **{KEY: "k"})

    assert response.status_code == 401
    assert IdempotencyRecord.objects.count() == 0


def test_a_refused_permission_is_not_stored(unprivileged):
    response = unprivileged.post("/api/v1/users/", {"username": "ok"}, **{KEY: "k"})

    assert response.status_code == 403
    assert IdempotencyRecord.objects.count() == 0


def test_a_server_error_keeps_neither_the_effect_nor_the_record(api):
    UserFactory(username="holder")
    AchievementFactory(code="first")
    api.raise_request_exception = False

    # The award's effects (figures, period figures) are written after the award row: failing
    # there leaves a half-done grant for the transaction to roll back.
    with mock.patch("achievements.services.awards.grant_effects_apply", side_effect=RuntimeError):
        failed = api.post(
            "/api/v1/users/holder/achievements/", {"achievement": "first"}, **{KEY: "k"}
        )

    assert failed.status_code == 500
    assert Award.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    retried = api.post("/api/v1/users/holder/achievements/", {"achievement": "first"}, **{KEY: "k"})
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def test_a_post_without_a_key_stores_nothing(api):
    api.post("/api/v1/users/", {"username": "ok"})

    assert IdempotencyRecord.objects.count() == 0


def test_an_expired_key_runs_the_request_afresh(api):
    api.post("/api/v1/users/", {"username": "ok"}, **{KEY: "k"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = api.post("/api/v1/users/", {"username": "ok"}, **{KEY: "k"})

    assert response.status_code == 400  # the user exists: it really ran again
    assert "Idempotent-Replayed" not in response


def test_purge_removes_only_keys_older_than_24_hours(api):
    api.post("/api/v1/users/", {"username": "old"}, **{KEY: "old"})
    api.post("/api/v1/users/", {"username": "recent"}, **{KEY: "recent"})
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    IdempotencyRecord.objects.filter(key="recent").update(
        created_at=timezone.now() - timedelta(hours=23)
    )

    call_command("purge_idempotency_keys", "--hours", "1", verbosity=0)

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one write at a time: a repeat waits for the first instead of racing it",
)
@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_is_running_is_a_409(integration_token):
    import users.api

    UserFactory(username="existing")
    started, release = threading.Event(), threading.Event()
    real_create = users.api.user_create

    def slow_create(**kwargs):
        started.set()
        release.wait(timeout=30)
        return real_create(**kwargs)

    results = {}

    def first():
        try:
            client = token_client(integration_token)
            results["first"] = client.post("/api/v1/users/", {"username": "slow"}, **{KEY: "k"})
        finally:
            connections.close_all()

    with mock.patch("users.api.user_create", side_effect=slow_create):
        thread = threading.Thread(target=first)
        thread.start()
        assert started.wait(timeout=30)
        try:
            second = token_client(integration_token).post(
                "/api/v1/users/", {"username": "slow"}, **{KEY: "k"}
            )
        finally:
            release.set()
            thread.join(timeout=60)

    assert second.status_code == 409
    assert second["Retry-After"] == "1"
    assert results["first"].status_code == 201
    third = token_client(integration_token).post(
        "/api/v1/users/", {"username": "slow"}, **{KEY: "k"}
    )
    assert (third.status_code, third["Idempotent-Replayed"]) == (201, "true")
    assert User.objects.filter(username="slow").count() == 1
