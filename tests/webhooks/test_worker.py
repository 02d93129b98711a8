"""The worker's machinery around django-tasks: planning and enqueueing in one transaction, tasks
that run twice recording once, parked deliveries of an inactive endpoint, batch claims that two
workers never share, and the tasks of a silent worker run again."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from achievements.services.awards import award_grant
from tests.factories import AchievementFactory, UserFactory
from tests.webhooks.receiver import Receiver, work
from webhooks.models import Delivery, Endpoint
from webhooks.services import (
    deliveries_plan,
    deliveries_send,
    endpoint_create,
    endpoint_test_send,
    endpoint_update,
    worker_heartbeat,
)
from webhooks.tasks import deliver
from webhooks.worker import Worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def tasks_for(delivery_ids) -> list[list[int]]:
    """The delivery ids of every deliver task, whatever its state."""
    return [
        args["args"][0]
        for args in DBTaskResult.objects.filter(task_path=deliver.module_path).values_list(
            "args_kwargs", flat=True
        )
        if set(args["args"][0]) & set(delivery_ids)
    ]


def test_planning_enqueues_one_task_per_batch_of_an_endpoints_deliveries(owner, settings):
    settings.WORKER_BATCH = 2
    first = endpoint_create(owner=owner, url="http://127.0.0.1:9/a")
    second = endpoint_create(owner=owner, url="http://127.0.0.1:9/b", events=["award.revoked"])
    owl = AchievementFactory()
    for _ in range(3):
        award_grant(user=UserFactory(), achievement=owl)

    assert deliveries_plan() == 3

    ids = sorted(first.deliveries.values_list("pk", flat=True))
    assert sorted(map(sorted, tasks_for(ids))) == [ids[:2], ids[2:]]
    assert not second.deliveries.exists()
    assert set(Endpoint.objects.values_list("cursor", flat=True)) == {
        max(first.deliveries.values_list("activity_id", flat=True))
    }


def test_a_failed_plan_leaves_no_delivery_no_task_and_the_cursor_in_place(owner, monkeypatch):
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    award_grant(user=UserFactory(), achievement=AchievementFactory())

    def crash(*args, **kwargs):
        raise RuntimeError("the worker dies before its commit")

    monkeypatch.setattr(Endpoint.objects, "bulk_update", crash)
    with pytest.raises(RuntimeError):
        deliveries_plan()
    monkeypatch.undo()

    assert not Delivery.objects.exists() and not DBTaskResult.objects.exists()
    assert Endpoint.objects.get(pk=endpoint.pk).cursor == endpoint.cursor
    assert deliveries_plan() == 1  # planned again, once
    assert DBTaskResult.objects.count() == 1


def test_a_task_run_again_after_recording_sends_and_records_nothing(owner):
    with Receiver() as receiver:
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        delivery = endpoint_test_send(endpoint=endpoint)

        assert deliveries_send(delivery_ids=[delivery.pk], attempts=0) == 1
        assert deliveries_send(delivery_ids=[delivery.pk], attempts=0) == 0
        received = receiver.wait_for(1)

    delivery.refresh_from_db()
    assert len(received) == 1 and (delivery.status, delivery.attempts) == ("delivered", 1)


def test_a_retry_is_a_task_run_after_the_delay_with_the_same_deliveries(owner):
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    delivery = endpoint_test_send(endpoint=endpoint)

    work()

    delivery.refresh_from_db()
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.args_kwargs["args"] == [[delivery.pk], 1]
    assert retry.run_after == delivery.next_attempt_at > timezone.now()
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 1


def test_an_inactive_endpoints_deliveries_wait_and_resume_when_it_is_reactivated(owner):
    with Receiver() as receiver:
        endpoint = endpoint_create(owner=owner, url=receiver.url)
        endpoint_update(endpoint=endpoint, active=False)
        delivery = endpoint_test_send(endpoint=endpoint)

        work()
        delivery.refresh_from_db()
        assert receiver.received == []
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            "pending",
            0,
            None,
        )

        endpoint_update(endpoint=endpoint, active=True)
        work()
        received = receiver.wait_for(1)

    delivery.refresh_from_db()
    assert [r.headers["webhook-id"] for r in received] == [delivery.message_id]
    assert delivery.status == "delivered"


def test_an_unreachable_receiver_costs_one_failed_attempt_per_batch(owner, settings):
    settings.WEBHOOK_CONNECTIONS = 1
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    owl = AchievementFactory()
    for _ in range(5):
        award_grant(user=UserFactory(), achievement=owl)

    assert work() == 5

    errors = list(endpoint.deliveries.order_by("id").values_list("last_error", flat=True))
    assert errors[0].startswith("ConnectionRefusedError")
    assert errors[1:] == [f"Not sent: {errors[0]}"] * 4
    assert set(endpoint.deliveries.values_list("attempts", "status")) == {(1, "pending")}


def test_a_task_keeps_its_connection_to_the_endpoint_alive(owner, settings):
    settings.WEBHOOK_CONNECTIONS = 1
    with Receiver(keep_alive=True) as receiver:
        endpoint_create(owner=owner, url=receiver.url)
        owl = AchievementFactory()
        for _ in range(6):
            award_grant(user=UserFactory(), achievement=owl)
        work()
        received = receiver.wait_for(6)

    assert len(received) == 6
    assert receiver.connections == 1


def test_the_tasks_of_a_silent_worker_run_again_and_a_live_workers_do_not(owner):
    endpoint = endpoint_create(owner=owner, url="http://127.0.0.1:9/")
    endpoint_test_send(endpoint=endpoint)
    endpoint_test_send(endpoint=endpoint)
    dead, alive = (
        Worker(name="dead", threads=1, poll=0, heartbeat=1),
        Worker(name="alive", threads=1, poll=0, heartbeat=1),
    )
    [killed], [busy] = dead.claim(1), alive.claim(1)
    worker_heartbeat(name="alive")
    long_ago = timezone.now() - timedelta(seconds=10)
    DBTaskResult.objects.update(started_at=long_ago)

    assert Worker(name="third", threads=1, poll=0, heartbeat=1).orphans_requeue() == 1

    assert DBTaskResult.objects.get(pk=killed.pk).status == "READY"
    assert DBTaskResult.objects.get(pk=busy.pk).status == "RUNNING"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one worker: its writes are one at a time",
)
def test_workers_claiming_at_once_never_claim_the_same_task(integration_account):
    endpoint = endpoint_create(owner=integration_account, url="http://127.0.0.1:9/")
    for _ in range(60):
        endpoint_test_send(endpoint=endpoint)
    claims: dict[str, list] = {}
    start = threading.Barrier(4)

    def claim_all(name: str) -> None:
        worker = Worker(name=name, threads=3, poll=0, heartbeat=60)
        mine = claims.setdefault(name, [])
        try:
            start.wait()
            while batch := worker.claim(3):
                mine.extend(task.pk for task in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    claimed = [pk for mine in claims.values() for pk in mine]
    assert len(claimed) == len(set(claimed)) == 60
    assert sum(1 for mine in claims.values() if mine) > 1, "one worker claimed everything"
    running = DBTaskResult.objects.filter(status="RUNNING")
    assert {pk: ids for pk, ids in running.values_list("pk", "worker_ids")} == {
        pk: [name] for name, mine in claims.items() for pk in mine
    }
