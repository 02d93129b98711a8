"""A receiver that hangs never slows the API: the worker calls it outside any transaction."""

import statistics
import threading
import time

import pytest
from django.db import connection

from tests.factories import AchievementFactory, UserFactory
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery
from webhooks.services import endpoint_create
from webhooks.worker import Worker

GRANTS = 20


def grant_latencies(api, prefix: str) -> list[float]:
    owl = AchievementFactory()
    latencies = []
    for i in range(GRANTS):
        user = UserFactory(username=f"{prefix}{i}")
        started = time.perf_counter()
        response = api.post(
            f"/api/v1/users/{user.username}/achievements/", {"achievement": owl.code}
        )
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 201
    return latencies


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads on SQLite's shared-cache test database lock whole tables without waiting",
)
def test_a_hanging_receiver_does_not_slow_awards(api, integration_account, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 2
    release = threading.Event()
    baseline = statistics.median(grant_latencies(api, "off"))

    with Receiver(lambda n: release.wait(30) and 200) as receiver:
        endpoint_create(owner=integration_account, url=receiver.url)
        stop = threading.Event()

        def work() -> None:
            rounds = Worker(name="isolation", threads=1, poll=0.05, heartbeat=60)
            try:
                while not stop.is_set():
                    rounds.run_once()
                    time.sleep(0.05)
            finally:
                connection.close()

        worker = threading.Thread(target=work)
        worker.start()
        try:
            with_hanging = statistics.median(grant_latencies(api, "on"))
            hung = len(receiver.received)
        finally:
            stop.set()
            release.set()
            worker.join(30)

    assert hung >= 1, "the receiver was never called"
    assert Delivery.objects.count() >= 1
    # A ratio, not a time: a grant waits on nothing the receiver does.
    assert with_hanging / baseline < 2.5
