"""Deliveries to a real receiver on loopback, made by the worker's own rounds (plan, claim the
tasks, run them): what arrives, its signature, retries, failures and disabling."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from achievements.services.awards import award_grant, award_revoke
from tests.factories import AchievementFactory, UserFactory
from tests.webhooks.receiver import Receiver, make_due, work
from webhooks.models import Delivery, Endpoint
from webhooks.services import (
    DISABLE_AFTER,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    deliveries_plan,
    endpoint_create,
    endpoint_secret_rotate,
    endpoint_test_send,
    endpoint_update,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def test_the_receiver_gets_every_grant_and_revocation_signed(owner):
    ann, owl, fox = UserFactory(), AchievementFactory(points=3), AchievementFactory()
    with Receiver() as receiver:
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=ann, achievement=owl)
        award_grant(user=ann, achievement=fox)
        award_revoke(user=ann, achievement=owl, reason="Mistake")

        assert work() == 3
        received = receiver.wait_for(3)

    payloads = [Webhook(endpoint.secret).verify(r.body, r.headers) for r in received]
    assert sorted((p["type"], p["data"]["achievement"]) for p in payloads) == sorted(
        [("award.granted", owl.code), ("award.granted", fox.code), ("award.revoked", owl.code)]
    )
    revoked = next(p for p in payloads if p["type"] == "award.revoked")
    assert revoked["data"]["reason"] == "Mistake" and revoked["data"]["points"] == 3
    assert set(revoked) == {"type", "timestamp", "data"}
    assert set(revoked["data"]) == {
        "id",
        "type",
        "user",
        "achievement",
        "points",
        "at",
        "by",
        "reason",
    }
    assert len({r.headers["webhook-id"] for r in received}) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_an_endpoint_gets_only_activity_from_its_registration_on(owner):
    ann, owl, fox = UserFactory(), AchievementFactory(), AchievementFactory()
    award_grant(user=ann, achievement=owl)
    with Receiver() as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=ann, achievement=fox)
        work()
        received = receiver.wait_for(1)

    assert [r.payload["data"]["achievement"] for r in received] == [fox.code]


def test_an_event_filter_leaves_the_other_events_out(owner):
    ann, owl = UserFactory(), AchievementFactory()
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/", events=["award.revoked"])
    award_grant(user=ann, achievement=owl)
    award_revoke(user=ann, achievement=owl)

    deliveries_plan()

    assert list(endpoint.deliveries.values_list("event_type", flat=True)) == ["award.revoked"]


def test_planning_twice_creates_each_delivery_once(owner):
    endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    award_grant(user=UserFactory(), achievement=AchievementFactory())

    assert deliveries_plan() == 1
    assert deliveries_plan() == 0


def test_a_500_is_retried_after_the_first_delay_and_then_delivered(owner):
    answers = {0: 500}
    with Receiver(lambda n: answers.get(n, 200)) as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        work()
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
            "pending",
            1,
            500,
        )
        delay = delivery.next_attempt_at - timezone.now()
        assert RETRY_DELAYS[0] - timedelta(seconds=2) < delay <= RETRY_DELAYS[0]
        assert work() == 0  # not due yet

        make_due()
        work()
        received = receiver.wait_for(2)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "delivered",
        2,
        200,
    )
    assert received[0].body == received[1].body
    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]


def test_the_retries_span_at_least_24_hours():
    assert sum(RETRY_DELAYS, timedelta()) >= timedelta(hours=24)
    assert sorted(RETRY_DELAYS) == RETRY_DELAYS


def test_a_delivery_fails_for_good_after_the_last_attempt(owner):
    with Receiver(lambda n: 503) as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        for _ in range(MAX_ATTEMPTS + 2):
            make_due()
            work()

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        MAX_ATTEMPTS,
        None,
    )


def test_a_redirect_is_not_followed_and_counts_as_a_failure(owner):
    with Receiver(lambda n: 302) as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        work()
        received = receiver.wait_for(1)

    assert len(received) == 1
    assert Delivery.objects.get().last_response_code == 302
    assert Delivery.objects.get().status == "pending"


def test_a_receiver_that_is_down_is_recorded_as_an_error(owner):
    endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    award_grant(user=UserFactory(), achievement=AchievementFactory())

    work()

    delivery = Delivery.objects.get()
    assert delivery.last_response_code is None and delivery.last_error
    assert delivery.status == "pending"


def test_an_endpoint_failing_for_five_days_is_disabled_with_the_reason(owner):
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - DISABLE_AFTER - timedelta(minutes=1)
    )
    award_grant(user=UserFactory(), achievement=AchievementFactory())

    work()

    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert "5 days" in endpoint.disabled_reason


def test_a_success_clears_the_failing_mark(owner):
    with Receiver() as receiver:
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        work()

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.active


def test_reactivating_clears_the_reason_and_skips_what_happened_meanwhile(owner):
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    endpoint_update(endpoint=endpoint, active=False)
    award_grant(user=UserFactory(), achievement=AchievementFactory())

    endpoint = endpoint_update(endpoint=endpoint, active=True)
    deliveries_plan()

    assert endpoint.disabled_reason == "" and not endpoint.deliveries.exists()


def test_dns_rebinding_to_a_private_address_is_refused_at_delivery(owner, settings, monkeypatch):
    with Receiver() as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        settings.WEBHOOK_ALLOW_PRIVATE = False  # the name now resolves to loopback
        work()

        assert receiver.received == []
    assert "private" in Delivery.objects.get().last_error


def test_the_test_event_and_a_rotated_secret_sign_what_arrives(owner):
    with Receiver() as receiver:
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        secret = endpoint_secret_rotate(endpoint=endpoint)
        endpoint_test_send(endpoint=endpoint)
        work()
        received = receiver.wait_for(1)

    assert secret != endpoint.secret
    assert Webhook(secret).verify(received[0].body, received[0].headers)["type"] == "webhook.test"


def test_no_secret_is_logged(owner, caplog):
    with Receiver() as receiver, caplog.at_level("DEBUG"):
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        secret = endpoint_secret_rotate(endpoint=endpoint)
        award_grant(user=UserFactory(), achievement=AchievementFactory())
        work()
        receiver.wait_for(1)

    logged = caplog.text
    assert endpoint.secret not in logged and secret not in logged
    assert secret.removeprefix("whsec_") not in logged
