"""Concurrent writes through the services, on real threads and real PostgreSQL transactions.

Each thread has its own database connection (closed when it ends); a barrier releases them
together so the transactions overlap. SQLite serializes every write transaction (IMMEDIATE
mode), so these races cannot happen there.
"""

import contextlib
import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from achievements.models import Achievement, Award
from achievements.queries import figures_mismatches
from achievements.services.awards import award_grant, award_grant_many, award_revoke
from achievements.services.catalog import achievement_create, achievement_update
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks; SQLite runs one write transaction at a time",
    ),
]

JOIN_TIMEOUT = 60


def figures(user) -> tuple[int, int]:
    user.refresh_from_db()
    return user.achievements_count, user.points


def test_simultaneous_identical_grants_leave_exactly_one_award():
    user, achievement = UserFactory(), AchievementFactory(points=10)
    at = timezone.now() - timedelta(hours=1)

    results = run_together(
        [lambda: award_grant(user=user, achievement=achievement, awarded_at=at)] * 20
    )

    assert sorted(created for _, created in results) == [False] * 19 + [True]
    award = Award.objects.get()
    assert {a.pk for a, _ in results} == {award.pk}
    assert figures(user) == (1, 10)
    assert figures_mismatches() == []


def test_simultaneous_grants_of_different_achievements_to_one_user_all_count():
    user = UserFactory()
    achievements = [AchievementFactory(points=points) for points in (1, 2, 4, 8, 16, 32, 64, 128)]

    results = run_together(
        [
            lambda a=achievement: award_grant(user=user, achievement=a)
            for achievement in achievements
        ]
    )

    assert all(created for _, created in results)
    assert figures(user) == (8, 255)
    assert figures_mismatches() == []


def test_grants_racing_a_points_change_leave_every_total_exact():
    changing = AchievementFactory(points=10)
    others = AchievementFactory.create_batch(6, points=3)
    holders = UserFactory.create_batch(6)
    newcomers = UserFactory.create_batch(4)
    for user in holders:
        award_grant(user=user, achievement=changing)

    def change_points(values):
        for value in values:
            achievement_update(achievement=changing, points=value)

    def grant_others(user, offset):
        for n in range(len(others)):
            award_grant(user=user, achievement=others[(n + offset) % len(others)])

    jobs = [
        lambda: change_points([20, 5, 1000, 7]),
        lambda: change_points([15, 30, 2, 99]),
        *[lambda u=user, n=n: grant_others(u, n) for n, user in enumerate(holders)],
        # New holders of the very achievement whose points are changing.
        lambda: award_grant_many(users=newcomers, achievement=changing),
        *[lambda u=user: award_grant(user=u, achievement=changing) for u in newcomers],
    ]
    run_together(jobs)

    changing.refresh_from_db()
    assert changing.points in {7, 99}
    for user in holders:
        assert figures(user) == (7, changing.points + 6 * 3)
    for user in newcomers:
        assert figures(user) == (1, changing.points)
    assert figures_mismatches() == []


def test_grants_and_revocations_racing_on_overlapping_users_leave_exact_figures():
    users = UserFactory.create_batch(4)
    achievements = AchievementFactory.create_batch(6, points=5)
    shared = achievements[0]

    def churn(seed):
        rng = random.Random(seed)
        for _ in range(25):
            user, achievement = rng.choice(users), rng.choice(achievements)
            if rng.random() < 0.55:
                days_ago = rng.randrange(10)
                award_grant(
                    user=user,
                    achievement=achievement,
                    awarded_at=timezone.now() - timedelta(days=days_ago),
                )
            else:
                # Not held at that moment is an expected outcome of the race.
                with contextlib.suppress(Award.DoesNotExist):
                    award_revoke(user=user, achievement=achievement)

    def reprice():
        for value in (6, 11, 1, 40, 8):
            achievement_update(achievement=shared, points=value)

    run_together(
        [
            *[lambda s=seed: churn(s) for seed in range(8)],
            reprice,
            lambda: award_grant_many(users=users, achievement=shared),
        ]
    )

    assert figures_mismatches() == []
    for user in users:
        held = Award.objects.filter(user=user).select_related("achievement")
        assert figures(user) == (len(held), sum(a.achievement.points for a in held))


def test_simultaneous_creates_from_one_name_without_a_code_each_get_the_next_suffix():
    AchievementFactory(code="night-owl")

    def create():
        return achievement_create(
            points=5, names={"en": "Night Owl"}, descriptions={"en": "Play after midnight."}
        ).code

    codes = run_together([create] * 10)

    expected = {f"night-owl-{n}" for n in range(2, 12)}
    assert set(codes) == expected
    assert set(Achievement.objects.values_list("code", flat=True)) == {"night-owl", *expected}


def test_a_grant_waiting_for_its_achievement_holds_no_user_row():
    """A single grant takes the achievement's shared lock and the user's row in one statement;
    the achievement comes first (step 1 of the lock order), so while a points change holds it,
    the waiting grant holds nothing of the user's, and then counts the points as changed."""
    from django.db import connections

    user, achievement = UserFactory(), AchievementFactory(points=10)
    change = connections.create_connection("default")  # plays a points change (no holders)
    granted = threading.Event()

    def grant():
        try:
            award_grant(user=user, achievement=achievement)
            granted.set()
        finally:
            connection.close()

    thread = threading.Thread(target=grant)
    try:
        change.set_autocommit(False)
        with change.cursor() as cursor:
            table = Achievement._meta.db_table
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [achievement.pk])
            thread.start()
            assert not granted.wait(1.0)  # waiting on the achievement
            # ... and holding nothing of the user's meanwhile.
            cursor.execute(
                f"SELECT 1 FROM {user._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT", [user.pk]
            )
            cursor.execute(f"UPDATE {table} SET points = 25 WHERE id = %s", [achievement.pk])
        change.commit()
    finally:
        change.close()
    thread.join(JOIN_TIMEOUT)
    assert granted.is_set()
    assert figures(user) == (1, 25)
    assert figures_mismatches() == []
