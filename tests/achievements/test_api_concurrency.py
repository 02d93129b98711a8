"""Simultaneous identical requests, on real threads with their own database connections."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from achievements.accounts import integration_account_ensure
from achievements.models import Award
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client
from users.models import User

THREADS = 20

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has one writer at a time: real concurrency needs PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def post(path: str, body: dict):
    """A request for `at_once`: POST `body` to `path`."""
    return lambda client: client.post(path, body)


def at_once(requests) -> list:
    """Run each `request(client)` on its own thread, all released together by a barrier.

    Each thread has its own client, token and database connection, and closes the connection
    when done. Returns (account name, response) in thread order.
    """
    clients = []
    for i in range(len(requests)):
        name = f"integration-{i}"
        clients.append((name, token_client(integration_account_ensure(name=name))))
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(i: int) -> None:
        name, client = clients[i]
        client.raise_request_exception = False
        try:
            barrier.wait(timeout=30)
            results[i] = (name, requests[i](client))
        except Exception as exc:  # reported by the assertions below
            results[i] = (name, exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    errors = [result for _name, result in results if isinstance(result, Exception)]
    assert not errors, errors
    return results


def test_twenty_identical_awards_at_once_leave_exactly_one_award():
    ann = UserFactory(username="ann")
    dragon = AchievementFactory(code="dragon", points=40)

    results = at_once(
        [post("/api/v1/users/ann/achievements/", {"achievement": "dragon"})] * THREADS
    )

    statuses = Counter(response.status_code for _name, response in results)
    assert statuses == {201: 1, 200: THREADS - 1}
    bodies = [response.json() for _name, response in results]
    assert all(body == bodies[0] for body in bodies)
    award = Award.objects.get()
    assert (award.user_id, award.achievement_id) == (ann.pk, dragon.pk)
    creator = next(name for name, response in results if response.status_code == 201)
    assert award.awarded_by.username == creator
    ann.refresh_from_db()
    assert (ann.achievements_count, ann.points, ann.longest_streak) == (1, 40, 1)


def test_twenty_different_awards_at_once_to_one_user_keep_the_figures_exact():
    ann = UserFactory(username="ann")
    for i in range(THREADS):
        AchievementFactory(code=f"a{i}", points=i + 1)

    results = at_once(
        [post("/api/v1/users/ann/achievements/", {"achievement": f"a{i}"}) for i in range(THREADS)]
    )

    assert Counter(response.status_code for _name, response in results) == {201: THREADS}
    assert Award.objects.filter(user=ann).count() == THREADS
    ann.refresh_from_db()
    assert (ann.achievements_count, ann.points) == (THREADS, sum(range(1, THREADS + 1)))


def test_twenty_registrations_of_one_name_in_different_cases_leave_one_user():
    spellings = ["alice", "ALICE", "Alice", "aLICE", "alIce"] * (THREADS // 5)

    results = at_once([post("/api/v1/users/", {"username": name}) for name in spellings])

    statuses = Counter(response.status_code for _name, response in results)
    assert statuses == {201: 1, 400: THREADS - 1}
    for _name, response in results:
        if response.status_code == 400:
            assert list(response.json()) == ["username"]
    assert User.objects.count() == 1


def test_awards_and_a_points_change_at_once_keep_every_total_exact():
    dragon = AchievementFactory(code="dragon", points=10)
    for i in range(THREADS - 1):
        UserFactory(username=f"u{i:02d}")

    requests = [
        post(f"/api/v1/users/u{i:02d}/achievements/", {"achievement": "dragon"})
        for i in range(THREADS - 1)
    ]
    requests.append(lambda c: c.patch("/api/v1/achievements/dragon/", {"points": 25}))

    results = at_once(requests)

    statuses = [response.status_code for _name, response in results]
    assert statuses == [201] * (THREADS - 1) + [200]
    dragon.refresh_from_db()
    assert dragon.points == 25
    assert set(User.objects.values_list("points", flat=True)) == {25}
    assert Token.objects.count() == THREADS
