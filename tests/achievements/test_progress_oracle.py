"""Progress, grants and revocations in random order, checked against a brute-force replay of
the raw operations."""

import contextlib
import random

import pytest

from achievements.models import Award, Progress
from achievements.queries import figures_mismatches
from achievements.services.awards import award_grant, award_revoke
from achievements.services.progress import progress_increment, progress_set
from tests.factories import AchievementFactory, UserFactory

pytestmark = pytest.mark.django_db


def replay(operations, goals: dict[int, int]) -> tuple[dict, set]:
    """The steps and holdings the contract says the operations leave, computed from scratch."""
    steps: dict[tuple[int, int], int] = {}
    held: set[tuple[int, int]] = set()
    for op, user, achievement, amount in operations:
        pair, goal = (user, achievement), goals[achievement]
        current = steps.get(pair, 0)
        if op == "grant":
            held.add(pair)
            steps[pair] = goal
        elif op == "revoke":
            if pair in held:
                held.discard(pair)
                steps[pair] = 0
        elif pair not in held:
            reached = current + amount if op == "increment" else max(current, amount)
            steps[pair] = min(goal, reached)
            if steps[pair] == goal:
                held.add(pair)
    return {pair: n for pair, n in steps.items() if n > 0}, held


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_leave_what_a_replay_of_them_computes(seed):
    rng = random.Random(seed)
    users = [UserFactory() for _ in range(4)]
    achievements = [AchievementFactory(goal=rng.choice([1, 2, 3, 5, 8])) for _ in range(5)]
    goals = {a.pk: a.goal for a in achievements}
    operations = []
    for _ in range(250):
        user, achievement = rng.choice(users), rng.choice(achievements)
        op = rng.choices(["increment", "set", "grant", "revoke"], weights=[5, 3, 1, 1])[0]
        amount = 0
        if op == "increment":
            amount = rng.randint(1, achievement.goal)
            progress_increment(user=user, achievement=achievement, increment=amount)
        elif op == "set":
            amount = rng.randint(0, achievement.goal)
            progress_set(user=user, achievement=achievement, steps=amount)
        elif op == "grant":
            award_grant(user=user, achievement=achievement)
        else:
            with contextlib.suppress(Award.DoesNotExist):  # not held: nothing to revoke
                award_revoke(user=user, achievement=achievement)
        operations.append((op, user.pk, achievement.pk, amount))

    expected_steps, expected_held = replay(operations, goals)

    stored_steps = {
        (p.user_id, p.achievement_id): p.steps for p in Progress.objects.filter(steps__gt=0)
    }
    assert stored_steps == expected_steps
    assert set(Award.objects.values_list("user_id", "achievement_id")) == expected_held
    assert figures_mismatches() == []
