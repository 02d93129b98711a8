"""Simultaneous progress on one (user, achievement), on real threads and connections."""

import threading

import pytest
from django.db import connection, connections

from achievements.accounts import integration_account_ensure
from achievements.models import Award, Progress
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client
from users.models import User

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has one writer at a time: real concurrency needs PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]

GOAL = 50


def test_fifty_simultaneous_increments_unlock_exactly_once_and_lose_no_step():
    user = UserFactory(username="racer")
    achievement = AchievementFactory(code="fifty", goal=GOAL, points=7)
    token = integration_account_ensure(name="racer-integration")
    barrier = threading.Barrier(GOAL)
    responses: list = [None] * GOAL

    def run(i: int) -> None:
        client = token_client(token)
        client.raise_request_exception = False
        try:
            barrier.wait(timeout=60)
            responses[i] = client.post(
                "/api/v1/users/racer/progress/", {"achievement": "fifty", "increment": 1}
            )
        except Exception as exc:  # reported by the assertions below
            responses[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(GOAL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = [getattr(r, "status_code", r) for r in responses]
    assert statuses == [200] * GOAL
    bodies = [r.json() for r in responses]
    assert sum(body["unlocked_now"] for body in bodies) == 1
    assert sorted(body["steps"] for body in bodies) == list(range(1, GOAL + 1))
    assert Progress.objects.get(user=user, achievement=achievement).steps == GOAL
    assert Award.objects.filter(user=user, achievement=achievement).count() == 1
    user = User.objects.get(pk=user.pk)
    assert (user.achievements_count, user.points) == (1, 7)
