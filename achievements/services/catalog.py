"""Every change to the catalog: create, change (points moving every holder's total) and
delete an achievement. Lock order: see achievements.services.awards."""

import logging
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.text import slugify
from modeltranslation.utils import build_localized_fieldname

from achievements.models import CODE_MAX_LENGTH, MIN_GOAL, Achievement, Award
from achievements.queries import period_figures_move_points
from achievements.selectors import achievement_goal_frozen
from achievements.services.rules import rule_evaluate, rule_validate
from core.db import event_types_lock, statement_timeout_lift
from core.errors import DomainConflict
from core.languages import language_codes
from users.models import User

logger = logging.getLogger(__name__)


# "Leave the rule as it is" (None means "no rule").
UNCHANGED = object()


class AchievementInUse(DomainConflict):
    """The achievement has holders, so deleting it would rewrite their history."""


class GoalFrozen(DomainConflict):
    """Someone has progress toward the achievement or holds it: a new goal would change what
    their steps mean."""


def _set_texts(
    achievement: Achievement,
    names: Mapping[str, str] | None,
    descriptions: Mapping[str, str] | None,
) -> None:
    for field, texts in (("name", names), ("description", descriptions)):
        for language, text in (texts or {}).items():
            if language not in language_codes():
                raise ValidationError({field: [f"Unsupported language {language!r}."]})
            # An empty translation is stored as NULL so the English fallback applies.
            setattr(achievement, build_localized_fieldname(field, language), text or None)


def _require_english(achievement: Achievement) -> None:
    errors = {}
    for field in ("name", "description"):
        column = build_localized_fieldname(field, settings.LANGUAGE_CODE)
        if not (getattr(achievement, column) or "").strip():
            errors[column] = ["This field is required: English is the fallback language."]
    if errors:
        raise ValidationError(errors)


def _require_integer(field: str, value) -> None:
    # Django would coerce True, "5" and 5.0 to integers; the contract refuses them.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: [f"{field.capitalize()} must be a whole number."]})


def _require_integer_points(points) -> None:
    _require_integer("points", points)


def _require_boolean(field: str, value) -> None:
    if not isinstance(value, bool):
        raise ValidationError({field: ["Must be true or false."]})


# Concurrent creates from the same name each take the next free suffix; a create gives up (with
# a message about the name, the only thing the client sent) only after this many collisions.
CODE_ATTEMPTS = 20


def _code_taken(code: str) -> bool:
    return Achievement.objects.filter(code=code).exists()


def _unique_code_from(name: str) -> str:
    base = slugify(name)[:CODE_MAX_LENGTH].strip("-_") or "achievement"
    code, n = base, 1
    while _code_taken(code):
        n += 1
        suffix = f"-{n}"
        code = base[: CODE_MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
    return code


def _save_with_generated_code(achievement: Achievement, name: str) -> None:
    """Save under the first free code made from `name`. A concurrent create may take that code
    between the look-up and the insert; the unique index refuses ours, and the next look-up
    (a new statement, which sees the other commit) finds the next free suffix."""
    for _attempt in range(CODE_ATTEMPTS):
        achievement.code = _unique_code_from(name)
        # The format is checked here; uniqueness is left to the index, which settles races.
        achievement.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                achievement.save()
        except IntegrityError:
            if not Achievement.objects.filter(code=achievement.code).exists():
                raise  # another constraint refused the row: not a race on the code
            logger.info("code %s taken by a concurrent create; trying the next", achievement.code)
            continue
        return
    raise ValidationError(
        {
            build_localized_fieldname("name", settings.LANGUAGE_CODE): [
                "Too many achievements are being created from this name at once; retry."
            ]
        }
    )


@transaction.atomic
def achievement_create(
    *,
    points: int,
    names: Mapping[str, str],
    descriptions: Mapping[str, str],
    code: str | None = None,
    goal: int = MIN_GOAL,
    hidden: bool = False,
    rule: dict | None = None,
    by: AbstractBaseUser | None = None,
) -> Achievement:
    """Add an entry to the catalog. Without a code, one is made from the English name: the
    first free of `slug`, `slug-2`, `slug-3`, ..., even when creates from that name race. With a
    rule, users whose measure already reaches the goal get it at once (dated now)."""
    _require_integer_points(points)
    _require_integer("goal", goal)
    _require_boolean("hidden", hidden)
    rule_event, rule_measure = rule_validate(rule)
    # Before any row lock: batches of this event type wait until the rule is in place.
    event_types_lock([rule_event] if rule_event else [], shared=False)
    achievement = Achievement(
        points=points,
        goal=goal,
        hidden=hidden,
        rule_event=rule_event,
        rule_measure=rule_measure,
    )
    _set_texts(achievement, names, descriptions)
    _require_english(achievement)
    if not code:
        _save_with_generated_code(achievement, names.get(settings.LANGUAGE_CODE, ""))
    else:
        achievement.code = code
        achievement.full_clean()
        try:
            with transaction.atomic():
                achievement.save()
        except IntegrityError as exc:
            # Lost a race with a concurrent create that took the same code.
            raise ValidationError(
                {"code": ["An achievement with this code already exists."]}
            ) from exc
    logger.info("achievement created: %s (%s points)", achievement.code, achievement.points)
    if achievement.rule is not None:
        rule_evaluate(achievement=achievement, by=by)
    return achievement


@transaction.atomic
def achievement_update(
    *,
    achievement: Achievement,
    points: int | None = None,
    names: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    goal: int | None = None,
    hidden: bool | None = None,
    rule: dict | None | object = UNCHANGED,
    by: AbstractBaseUser | None = None,
) -> Achievement:
    """Change points, goal, visibility and texts. A points change moves every holder's total,
    and every period figure that counts the award, in the same transaction; a goal change is
    refused (GoalFrozen) once anyone has progress toward it or holds it. A new or changed rule
    applies at once to the measures already kept: those past the goal get the award, dated
    now."""
    rule_changed = False
    if rule is not UNCHANGED:
        rule_event, rule_measure = rule_validate(rule)
        before = Achievement.objects.filter(pk=achievement.pk).values_list("rule_event", flat=True)
        # Before the row lock (the lock order): batches of the old and new types wait.
        event_types_lock({t for t in (rule_event, *before) if t}, shared=False)
    locked = Achievement.objects.select_for_update().get(pk=achievement.pk)
    if rule is not UNCHANGED and (rule_event, rule_measure) != (
        locked.rule_event,
        locked.rule_measure,
    ):
        locked.rule_event, locked.rule_measure = rule_event, rule_measure
        rule_changed = True
    old_points = locked.points
    if points is not None:
        _require_integer_points(points)
        locked.points = points
    if hidden is not None:
        _require_boolean("hidden", hidden)
        locked.hidden = hidden
    if goal is not None and goal != locked.goal:
        _require_integer("goal", goal)
        # The exclusive lock above keeps progress and grants of it out until this commits.
        if achievement_goal_frozen(locked):
            raise GoalFrozen(
                f"The goal of {locked.code!r} cannot change: users already have progress "
                "toward it or hold it."
            )
        locked.goal = goal
    _set_texts(locked, names, descriptions)
    _require_english(locked)
    locked.full_clean()
    locked.save()
    delta = locked.points - old_points
    if delta:
        # Moving every holder's rows is bulk work: a popular achievement has tens of thousands.
        statement_timeout_lift()
        holders = User.objects.filter(
            pk__in=Award.objects.filter(achievement=locked).values("user_id")
        )
        # Lock holders in id order (see the lock order above), then move their totals.
        list(holders.order_by("pk").select_for_update().values_list("pk", flat=True))
        moved = holders.update(points=F("points") + delta)
        periods = period_figures_move_points(locked.pk, delta)
        logger.info(
            "achievement %s points %s -> %s; %s holders' totals and %s period rows moved",
            locked.code,
            old_points,
            locked.points,
            moved,
            periods,
        )
    if rule_changed:
        logger.info("achievement %s rule now %s", locked.code, locked.rule)
        rule_evaluate(achievement=locked, by=by)
    return locked


@transaction.atomic
def achievement_delete(*, achievement: Achievement) -> None:
    """Remove an entry nobody holds; raise AchievementInUse when somebody does."""
    locked = Achievement.objects.select_for_update().get(pk=achievement.pk)
    holders = Award.objects.filter(achievement=locked).count()
    if holders:
        raise AchievementInUse(
            f"Achievement {locked.code!r} has been awarded to {holders} user(s); "
            "revoke those awards before deleting it."
        )
    locked.delete()
    logger.info("achievement deleted: %s", locked.code)
