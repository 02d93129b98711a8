"""One grant, two paths: `award_grant` (one award) and `award_grant_set` (a rule granting many
at once) write exactly the same rows, and the single grant runs a pinned number of statements."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from achievements.models import Activity, Award, HolderCount, PeriodFigure, Progress
from achievements.services.awards import award_grant, award_grant_set, award_revoke
from tests.factories import AchievementFactory, UserFactory

pytestmark = pytest.mark.django_db

FIGURES = ("achievements_count", "points", "longest_streak", "streak_start", "streak_end")


def effects(user, achievement) -> dict:
    """Every row a grant of `achievement` to `user` touches, without the user's identity."""
    user.refresh_from_db()
    award = Award.objects.get(user=user, achievement=achievement)
    progress = Progress.objects.get(user=user, achievement=achievement)
    return {
        "award": (award.awarded_at, award.awarded_by_id),
        "progress": (progress.steps, progress.rule_revoked),
        "figures": tuple(getattr(user, f) for f in FIGURES),
        "periods": sorted(
            PeriodFigure.objects.filter(user=user).values_list(
                "kind", "start", "achievements_count", "points"
            )
        ),
        # A revocation is dated when it happened: the two users' differ by design.
        "activity": [
            (kind, code, points, at if kind == Activity.GRANTED else None, by, reason)
            for kind, code, points, at, by, reason in Activity.objects.filter(user=user.username)
            .order_by("id")
            .values_list("type", "achievement", "points", "at", "by", "reason")
        ],
        "holders": sum(
            HolderCount.objects.filter(achievement=achievement).values_list("holders", flat=True)
        ),
    }


def history(user, achievements, target, now, operator):
    """The same past for each user: two older awards on consecutive days, partial progress
    toward `target` taken back once by a revocation (so its row exists, flagged)."""
    award_grant(user=user, achievement=achievements[0], awarded_at=now - timedelta(days=3))
    award_grant(user=user, achievement=achievements[1], awarded_at=now - timedelta(days=2))
    award_grant(user=user, achievement=target, awarded_at=now - timedelta(days=9), by=operator)
    award_revoke(user=user, achievement=target, by=operator, reason="test")


def test_a_single_grant_and_a_set_grant_write_the_same_rows(operator):
    now = timezone.now().replace(microsecond=0)
    older = [AchievementFactory(points=5), AchievementFactory(points=7)]
    target = AchievementFactory(points=40, goal=3, rule_event="lesson.done", rule_measure="count")
    one, other = UserFactory(), UserFactory()
    for user in (one, other):
        history(user, older, target, now, operator)
    at = now - timedelta(days=1)

    award_grant(user=one, achievement=target, awarded_at=at, by=operator)
    before = effects(one, target)["holders"]
    award_grant_set(achievement=target, awarded_at=at, user_ids=[other.pk], by=operator)

    mine, theirs = effects(one, target), effects(other, target)
    assert before == 1
    assert mine["holders"] == theirs["holders"] == 2
    assert Award.objects.filter(achievement=target).count() == 2
    del mine["holders"], theirs["holders"]
    assert mine == theirs
    # And what they are: the award at the goal, a three-day streak, one entry per change.
    assert mine["progress"] == (3, False)
    assert mine["figures"][:3] == (3, 52, 3)
    assert [entry[0] for entry in mine["activity"]] == [
        Activity.GRANTED,
        Activity.GRANTED,
        Activity.GRANTED,
        Activity.REVOKED,
        Activity.GRANTED,
    ]
    assert mine["activity"][-1][1:] == (target.code, 40, at, operator.username, "")


def test_a_set_grant_of_many_users_at_their_own_moments_equals_single_grants(operator):
    now = timezone.now().replace(microsecond=0)
    target = AchievementFactory(points=9, goal=2)
    singles, set_users = UserFactory.create_batch(4), UserFactory.create_batch(4)
    moments = [now - timedelta(days=d, hours=d) for d in (0, 1, 6, 40)]
    for user, at in zip(singles, moments, strict=True):
        award_grant(user=user, achievement=target, awarded_at=at, by=operator)

    granted = award_grant_set(
        achievement=target,
        awarded_at={u.pk: at for u, at in zip(set_users, moments, strict=True)},
        by=operator,
    )

    assert sorted(granted) == sorted(u.pk for u in set_users)
    for single, grouped in zip(singles, set_users, strict=True):
        assert effects(single, target) == effects(grouped, target)
    assert effects(singles[0], target)["holders"] == 8


def test_a_set_grant_leaves_held_awards_and_their_rows_alone(operator):
    target = AchievementFactory(points=3)
    ann, bob = UserFactory(), UserFactory()
    first = timezone.now() - timedelta(days=5)
    award_grant(user=ann, achievement=target, awarded_at=first)
    kept = effects(ann, target)

    granted = award_grant_set(
        achievement=target, awarded_at=timezone.now(), user_ids=[ann.pk, bob.pk], by=operator
    )

    assert granted == [bob.pk]
    after = effects(ann, target)
    assert after.pop("holders") == 2
    kept.pop("holders")
    assert after == kept


# The statements of one grant, from the transaction's start to its end: on PostgreSQL the
# achievement's shared lock with the user's lock and the insert (and the award already held);
# progress, holder count, figures and period figures, then the feed lock with the activity
# entry, in one statement. Under the test's own transaction, atomic() runs a SAVEPOINT and a
# RELEASE around them.
NEW_GRANT_STATEMENTS = {"postgresql": 4, "sqlite": 11}
REPEAT_GRANT_STATEMENTS = {"postgresql": 3, "sqlite": 6}


def test_a_grant_runs_a_fixed_number_of_statements(count_queries):
    user, achievement = UserFactory(), AchievementFactory(goal=4)
    award_grant(user=user, achievement=AchievementFactory(), awarded_at=timezone.now())

    new = count_queries(lambda: award_grant(user=user, achievement=achievement))
    repeat = count_queries(lambda: award_grant(user=user, achievement=achievement))

    assert (new, repeat) == (
        NEW_GRANT_STATEMENTS[connection.vendor],
        REPEAT_GRANT_STATEMENTS[connection.vendor],
    )


def test_a_repeated_grant_over_http_does_not_fetch_the_achievement_again(api, count_queries):
    user, achievement = UserFactory(username="ann"), AchievementFactory(code="owl")
    post = lambda: api.post(  # noqa: E731
        f"/api/v1/users/{user.username}/achievements/", {"achievement": "owl"}, format="json"
    )
    post()
    api.get(f"/api/v1/users/{user.username}/achievements/")  # warm whatever the auth caches

    first_repeat = count_queries(post)
    Award.objects.filter(user=user, achievement=achievement).delete()
    HolderCount.objects.filter(achievement=achievement).delete()
    new = count_queries(post)

    # A repeat runs the grant's repeat statements and nothing after them; a new grant the same
    # requests' statements plus the new grant's extra ones.
    extra = NEW_GRANT_STATEMENTS[connection.vendor] - REPEAT_GRANT_STATEMENTS[connection.vendor]
    assert new - first_repeat == extra
