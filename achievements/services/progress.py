"""Progress toward incremental achievements: steps that only go up, and the award granted
through `award_grant`, in the same transaction, when they reach the goal.

Lock order (the one documented in achievements.services.awards): the achievement row shared
(its goal cannot change under us), then the user's row (every write to that user's awards and
progress queues there, so concurrent increments add up and never lose a step), then the
progress row itself.
"""

import logging
from collections.abc import Callable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from achievements.models import Achievement, Award, Progress
from achievements.services.awards import achievement_lock_shared, award_grant, user_lock
from core.consistency import Mismatch
from core.db import statement_timeout_lift
from users.models import User

logger = logging.getLogger(__name__)

RULE_DRIVEN = "This achievement's progress comes from events (its rule); it cannot be set here."


def _advance(
    *,
    user: User,
    achievement: Achievement,
    field: str,
    value: int,
    lowest: int,
    target: Callable[[int], int],
    by: AbstractBaseUser | None,
) -> tuple[Progress, bool]:
    achievement_lock_shared(achievement)  # also refreshes the goal as read under the lock
    if achievement.rule is not None:
        raise ValidationError({"achievement": [RULE_DRIVEN]})
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: ["A whole number is required."]})
    if not lowest <= value <= achievement.goal:
        raise ValidationError(
            {field: [f"Must be between {lowest} and the goal, {achievement.goal}."]}
        )
    user_lock(user)
    progress = (
        Progress.objects.select_for_update().filter(user=user, achievement=achievement).first()
    )
    if progress is None:
        progress = Progress(user=user, achievement=achievement, steps=0)
    if Award.objects.filter(user=user, achievement=achievement).exists():
        return progress, False  # already held: nothing changes
    steps = min(achievement.goal, target(progress.steps))
    if steps == progress.steps:
        return progress, False
    progress.steps, progress.updated_at = steps, timezone.now()
    progress.save()
    if steps < achievement.goal:
        return progress, False
    award_grant(user=user, achievement=achievement, awarded_at=progress.updated_at, by=by)
    logger.info("progress unlocked %s for %s", achievement.code, user.username)
    return progress, True


@transaction.atomic
def progress_increment(
    *,
    user: User,
    achievement: Achievement,
    increment: int,
    by: AbstractBaseUser | None = None,
) -> tuple[Progress, bool]:
    """Add `increment` (1 to the goal) steps, stopping at the goal, which grants the award.
    Returns (progress, unlocked now); an achievement already held is left unchanged."""
    return _advance(
        user=user,
        achievement=achievement,
        field="increment",
        value=increment,
        lowest=1,
        target=lambda current: current + increment,
        by=by,
    )


@transaction.atomic
def progress_set(
    *,
    user: User,
    achievement: Achievement,
    steps: int,
    by: AbstractBaseUser | None = None,
) -> tuple[Progress, bool]:
    """Raise the steps to at least `steps` (0 to the goal; never lowers them); reaching the
    goal grants the award. Returns (progress, unlocked now)."""
    return _advance(
        user=user,
        achievement=achievement,
        field="steps",
        value=steps,
        lowest=0,
        target=lambda current: max(current, steps),
        by=by,
    )


def _held_off_goal() -> list[tuple[int, int, int, int | None, str]]:
    """(user id, achievement id, goal, stored steps or None, name) of every award whose
    progress row is missing or not at the goal."""
    progress = Progress.objects.filter(user=OuterRef("user"), achievement=OuterRef("achievement"))
    rows = (
        Award.objects.exclude(Exists(progress.filter(steps=OuterRef("achievement__goal"))))
        .annotate(steps=Subquery(progress.values("steps")[:1]))
        .order_by("user_id", "achievement_id")
        .values_list(
            "user_id",
            "achievement_id",
            "achievement__goal",
            "steps",
            "user__username",
            "achievement__code",
        )
    )
    return [(uid, aid, goal, steps, f"{name} {code}") for uid, aid, goal, steps, name, code in rows]


def _mismatches(rows) -> list[Mismatch]:
    return [
        Mismatch(name=name, stored={"steps": steps}, expected={"steps": goal})
        for _uid, _aid, goal, steps, name in rows
    ]


@transaction.atomic
def progress_check() -> list[Mismatch]:
    """Every award whose holder's progress row is missing or not at the goal (a grant puts it
    there); changes nothing. Registered with `rebuild_stats`."""
    statement_timeout_lift()
    return _mismatches(_held_off_goal())


@transaction.atomic
def progress_rebuild() -> list[Mismatch]:
    """Put every holder's progress at the goal, as a grant does; return what was wrong."""
    statement_timeout_lift()
    # Every user row held (ascending id, the documented order), as figures_rebuild does: no
    # grant or revocation of theirs commits in between.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    rows = _held_off_goal()
    now = timezone.now()
    for uid, aid, goal, steps, _name in rows:
        if steps is None:
            Progress.objects.create(user_id=uid, achievement_id=aid, steps=goal, updated_at=now)
        else:
            Progress.objects.filter(user_id=uid, achievement_id=aid).update(
                steps=goal, updated_at=now, rule_revoked=False
            )
    logger.info("progress rebuilt: %s holder row(s) put at the goal", len(rows))
    return _mismatches(rows)
