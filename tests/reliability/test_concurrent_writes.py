"""Thousands of random writes through the API from several threads at once lose nothing.

Each thread is an integration with its own client and database connection; they share a small
pool of users and achievements so that their writes collide on the same rows all the time.
Afterwards the stored figures must equal the awards (`rebuild_stats --check`) and every stats
endpoint must equal the brute-force oracle over the raw award rows.
"""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from achievements.models import Award
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client
from tests.stats.oracle import PAGE, Oracle, database_oracle

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks and real parallel transactions; SQLite runs one "
        "write transaction at a time",
    ),
]

THREADS = 6
WRITES_PER_THREAD = 500
SEED = 20240501
# A small pool keeps the writers colliding: the same users and achievements, all the time.
USERNAMES = [f"player{n:02d}" for n in range(40)]
# These users come and go (registered, deleted); the others stay, so that awards accumulate.
EPHEMERAL_USERNAMES = USERNAMES[30:]
CODES = [f"badge-{n}" for n in range(10)]
# These come and go (created, retired); the others stay, so that awards accumulate.
EPHEMERAL_CODES = CODES[7:]
# The statuses each kind of write may answer while other threads change the same rows, and how
# often each kind is drawn.
ALLOWED = {
    "grant": {200, 201, 400, 404},  # 400: the achievement is gone; 404: the user is gone
    "revoke": {204, 404},  # 404: not held, or the user or the achievement is gone
    "points": {200, 404},
    "language": {200, 404},
    "user_create": {201, 400},  # 400: the name (in some case) is taken
    "user_delete": {204, 404},
    "achievement_create": {201, 400},  # 400: the code is taken
    "achievement_delete": {204, 404, 409},  # 409: somebody holds it
}
WEIGHTS = [45, 15, 8, 5, 8, 3, 4, 3]
STATS = "/api/v1/stats/"


def _some_case(rng: random.Random, username: str) -> str:
    """The username in a random mix of cases: lookups and the uniqueness rule ignore case."""
    return "".join(c.upper() if rng.random() < 0.3 else c for c in username)


def _random_write(rng: random.Random, client, kind: str):
    """One write of `kind` on a random user and achievement of the pools."""
    users = EPHEMERAL_USERNAMES if kind.startswith("user_") else USERNAMES
    username = _some_case(rng, rng.choice(users))
    code = rng.choice(EPHEMERAL_CODES if kind.startswith("achievement_") else CODES)
    if kind == "grant":
        # Spread over ten days so that streaks form, break and join.
        at = timezone.now() - timedelta(days=rng.randrange(10), minutes=rng.randrange(1, 600))
        body = {"achievement": code, "awarded_at": at.isoformat()}
        return client.post(f"/api/v1/users/{username}/achievements/", body)
    if kind == "revoke":
        return client.delete(f"/api/v1/users/{username}/achievements/{code}/")
    if kind == "points":
        return client.patch(f"/api/v1/achievements/{code}/", {"points": rng.randint(1, 500)})
    if kind == "language":
        language = rng.choice(["en", "ru"])
        return client.patch(f"/api/v1/users/{username}/", {"language": language})
    if kind == "user_create":
        return client.post("/api/v1/users/", {"username": username})
    if kind == "user_delete":
        return client.delete(f"/api/v1/users/{username}/")
    if kind == "achievement_create":
        body = {"code": code, "points": rng.randint(1, 500), "name_en": code, "description_en": "x"}
        return client.post("/api/v1/achievements/", body)
    # Retire an achievement: revoke it from its holders, then delete it, while the other
    # threads may grant it again in between (then the delete is a 409).
    holders = Award.objects.filter(achievement__code=code).values_list("user__username", flat=True)
    for holder in list(holders):
        response = client.delete(f"/api/v1/users/{holder}/achievements/{code}/")
        if response.status_code not in ALLOWED["revoke"]:
            return response
    return client.delete(f"/api/v1/achievements/{code}/")


def _run_writers(token: str) -> tuple[Counter, list[str]]:
    """Run THREADS writers together; return (kind, status) counts and every unexpected answer."""
    barrier = threading.Barrier(THREADS)
    outcomes: Counter = Counter()
    unexpected: list[str] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        rng = random.Random(SEED + index)
        client = token_client(token)
        # A 500 comes back as a response: the test client's "re-raise" hook is process-wide
        # and would blame whichever thread happened to be in a request.
        client.raise_request_exception = False
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            for _ in range(WRITES_PER_THREAD):
                kind = rng.choices(list(ALLOWED), weights=WEIGHTS)[0]
                response = _random_write(rng, client, kind)
                with lock:
                    outcomes[kind, response.status_code] += 1
                    if response.status_code not in ALLOWED[kind]:
                        # The request id finds the traceback in the captured log.
                        unexpected.append(
                            f"{kind} -> {response.status_code} "
                            f"(request {response.get('X-Request-ID')}): "
                            f"{response.content[:200].decode(errors='replace')}"
                        )
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a writer hung: a lock wait or a deadlock"
    return outcomes, unexpected


def _get(client, path: str, **params) -> dict:
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def _results(client, path: str, **params) -> list[dict]:
    body = _get(client, path, limit=1000, **params)
    assert body["next"] is None, "the test keeps every answer on one page"
    return body["results"]


def _assert_stats_equal_oracle(client, oracle: Oracle) -> None:
    assert _get(client, STATS + "most-achievements/") == oracle.most_achievements()
    assert _get(client, STATS + "most-points/") == oracle.most_points()
    assert _get(client, STATS + "max-points-gap/") == oracle.max_points_gap()
    assert _get(client, STATS + "min-points-gap/") == oracle.min_points_gap()
    for days in (2, 3, 4, 5, 7, 10):
        assert _results(client, STATS + "streaks/", days=days) == oracle.streaks(days)
    for by in ("points", "achievements"):
        assert _results(client, STATS + "leaderboard/", by=by) == oracle.leaderboard(by)
    rarity = [
        {key: row[key] for key in ("code", "points", "holders", "holders_percent")}
        for row in _results(client, STATS + "achievements/")
    ]
    assert rarity == oracle.achievements()
    summary, expected = _get(client, STATS), oracle.summary()
    assert summary["streaks"]["count"] <= PAGE, "the summary's streaks fit on its first page"
    for key in ("most_achievements", "most_points", "max_points_gap", "min_points_gap"):
        assert summary[key] == expected[key]
    assert summary["streaks"]["results"] == expected["streaks"]["results"]
    users = {u["username"]: u for u in _results(client, "/api/v1/users/")}
    for brief in oracle.briefs():
        user = users[brief["username"]]
        assert (user["achievements_count"], user["points"]) == (
            brief["achievements_count"],
            brief["points"],
        )


def test_thousands_of_concurrent_writes_leave_every_figure_and_stat_exact(integration_token):
    for username in USERNAMES[:35]:
        UserFactory(username=username)
    for code in CODES[:8]:
        AchievementFactory(code=code, points=random.Random(code).randint(1, 500))

    started = time.monotonic()
    outcomes, unexpected = _run_writers(integration_token)
    elapsed = time.monotonic() - started

    # No 500, no 503 (a deadlock or serialization failure would be one), no lost request.
    assert unexpected == [], f"{len(unexpected)} unexpected answers: {unexpected[:8]}"
    assert sum(outcomes.values()) == THREADS * WRITES_PER_THREAD
    # The run really exercised every kind of write, including the ones that change figures.
    for kind, status in [
        ("grant", 201),
        ("grant", 200),
        ("revoke", 204),
        ("points", 200),
        ("user_create", 201),
        ("user_delete", 204),
        ("achievement_create", 201),
        ("achievement_delete", 204),
    ]:
        assert outcomes[kind, status] > 0, f"no {kind} answered {status}: {outcomes}"
    print(f"{sum(outcomes.values())} writes in {elapsed:.1f}s: {sorted(outcomes.items())}")

    call_command("rebuild_stats", "--check")
    oracle = database_oracle()
    assert len(oracle.awards) > 100, "enough awards survive for the comparison to mean something"
    _assert_stats_equal_oracle(token_client(integration_token), oracle)
