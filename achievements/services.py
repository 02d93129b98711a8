"""Every change to the catalog and to awards goes through these functions.

The API, the admin and the management commands all call them, so the rules and the users'
stored figures (count, points, longest streak) cannot drift between write paths.

Lock order, followed by every function here so that concurrent writes cannot deadlock:
  1. the achievement row: shared by grants and revocations (its points must not change under
     them), exclusive by a points change or a deletion;
  2. then user rows, in ascending id.
A grant or revocation therefore serializes with other writes to the same user, and a points
change waits for grants of that achievement in flight (and they for it).
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from modeltranslation.utils import build_localized_fieldname

from achievements.models import CODE_MAX_LENGTH, Achievement, Award
from achievements.queries import (
    FigureMismatch,
    achievement_lock_shared,
    figures_mismatches,
    figures_refresh,
    statement_timeout_lift,
)
from users.models import User

logger = logging.getLogger(__name__)

LANGUAGE_CODES = [code for code, _ in settings.LANGUAGES]
# Award times before this are refused: nothing was awarded before the Unix epoch, and far-past
# values overflow time-zone arithmetic on some databases.
EARLIEST_AWARD = datetime(1970, 1, 1, tzinfo=UTC)


class AchievementInUse(Exception):
    """The achievement has holders, so deleting it would rewrite their history."""


def _set_texts(
    achievement: Achievement,
    names: Mapping[str, str] | None,
    descriptions: Mapping[str, str] | None,
) -> None:
    for field, texts in (("name", names), ("description", descriptions)):
        for language, text in (texts or {}).items():
            if language not in LANGUAGE_CODES:
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


def _require_integer_points(points) -> None:
    # Django would coerce True, "5" and 5.0 to integers; the contract refuses them.
    if isinstance(points, bool) or not isinstance(points, int):
        raise ValidationError({"points": ["Points must be a whole number."]})


def _unique_code_from(name: str) -> str:
    base = slugify(name)[:CODE_MAX_LENGTH].strip("-_") or "achievement"
    code, n = base, 1
    while Achievement.objects.filter(code=code).exists():
        n += 1
        suffix = f"-{n}"
        code = base[: CODE_MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
    return code


@transaction.atomic
def achievement_create(
    *,
    points: int,
    names: Mapping[str, str],
    descriptions: Mapping[str, str],
    code: str | None = None,
) -> Achievement:
    """Add an entry to the catalog. Without a code, one is made from the English name."""
    _require_integer_points(points)
    achievement = Achievement(points=points)
    _set_texts(achievement, names, descriptions)
    _require_english(achievement)
    achievement.code = code or _unique_code_from(names.get(settings.LANGUAGE_CODE, ""))
    achievement.full_clean()
    try:
        with transaction.atomic():
            achievement.save()
    except IntegrityError as exc:
        # Lost a race with a concurrent create that took the same code.
        raise ValidationError({"code": ["An achievement with this code already exists."]}) from exc
    logger.info("achievement created: %s (%s points)", achievement.code, achievement.points)
    return achievement


@transaction.atomic
def achievement_update(
    *,
    achievement: Achievement,
    points: int | None = None,
    names: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> Achievement:
    """Change points and texts. A points change moves every holder's total in the same
    transaction."""
    locked = Achievement.objects.select_for_update().get(pk=achievement.pk)
    old_points = locked.points
    if points is not None:
        _require_integer_points(points)
        locked.points = points
    _set_texts(locked, names, descriptions)
    _require_english(locked)
    locked.full_clean()
    locked.save()
    delta = locked.points - old_points
    if delta:
        holders = User.objects.filter(
            pk__in=Award.objects.filter(achievement=locked).values("user_id")
        )
        # Lock holders in id order (see the lock order above), then move their totals.
        list(holders.order_by("pk").select_for_update().values_list("pk", flat=True))
        moved = holders.update(points=F("points") + delta)
        logger.info(
            "achievement %s points %s -> %s; %s holders' totals moved",
            locked.code,
            old_points,
            locked.points,
            moved,
        )
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


def award_time_validate(awarded_at: datetime) -> None:
    """Refuse a naive, future or pre-1970 award time with a ValidationError on `awarded_at`."""
    if timezone.is_naive(awarded_at):
        raise ValidationError({"awarded_at": ["Give a time zone (e.g. 2024-05-01T10:00:00Z)."]})
    if awarded_at > timezone.now():
        raise ValidationError({"awarded_at": ["An award cannot be dated in the future."]})
    if awarded_at < EARLIEST_AWARD:
        raise ValidationError({"awarded_at": ["An award cannot be dated before 1970."]})


def _audit(
    event: str,
    *,
    achievement: Achievement,
    user: User,
    by: AbstractBaseUser | None,
    awarded_at: datetime | None,
) -> None:
    """Log who gave or took what from whom, once the transaction has committed."""
    fields = {
        "event": event,
        "achievement": achievement.code,
        "user": user.username,
        "by": by.get_username() if by else None,
        "at": (awarded_at or timezone.now()).isoformat(),
    }
    verb = "granted to" if event == "award_granted" else "revoked from"
    message = "award %s %s %s by %s at %s"
    args = (achievement.code, verb, user.username, fields["by"] or "system", fields["at"])
    transaction.on_commit(lambda: logger.info(message, *args, extra=fields))


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def award_grant(
    *,
    user: User,
    achievement: Achievement,
    awarded_at: datetime | None = None,
    by: AbstractBaseUser | None = None,
) -> tuple[Award, bool]:
    """Give `achievement` to `user`. Returns (award, True) for a new award, or the existing
    award unchanged and False when the user already holds it. Safe to retry and to race."""
    awarded_at = awarded_at or timezone.now()
    award_time_validate(awarded_at)
    achievement_lock_shared(achievement.pk)
    # Holding the user's row makes check-then-insert safe: identical requests queue here.
    _lock_user(user)
    existing = Award.objects.filter(user=user, achievement=achievement).first()
    if existing is not None:
        return existing, False
    award = Award.objects.create(
        user=user, achievement=achievement, awarded_at=awarded_at, awarded_by=by
    )
    figures_refresh(user.pk)
    _audit("award_granted", achievement=achievement, user=user, by=by, awarded_at=awarded_at)
    return award, True


@transaction.atomic
def award_grant_many(
    *, users: Iterable[User], achievement: Achievement, by: AbstractBaseUser | None = None
) -> tuple[int, int]:
    """Give one achievement to many users at once; returns (newly awarded, already held)."""
    newly = already = 0
    for user in sorted(users, key=lambda u: u.pk):  # ascending id: the documented lock order
        _award, created = award_grant(user=user, achievement=achievement, by=by)
        if created:
            newly += 1
        else:
            already += 1
    return newly, already


@transaction.atomic
def award_revoke(
    *, user: User, achievement: Achievement, by: AbstractBaseUser | None = None
) -> None:
    """Take `achievement` back from `user`; raises Award.DoesNotExist if they do not hold it."""
    achievement_lock_shared(achievement.pk)
    _lock_user(user)
    deleted, _ = Award.objects.filter(user=user, achievement=achievement).delete()
    if not deleted:
        raise Award.DoesNotExist(f"{user.username} does not hold {achievement.code}.")
    figures_refresh(user.pk)
    _audit("award_revoked", achievement=achievement, user=user, by=by, awarded_at=None)


@transaction.atomic
def figures_check() -> list[FigureMismatch]:
    """Every user whose stored figures differ from their awards; changes nothing."""
    statement_timeout_lift()
    return figures_mismatches()


@transaction.atomic
def figures_rebuild() -> list[FigureMismatch]:
    """Recompute every user's figures from the awards, set-based; return what was wrong."""
    statement_timeout_lift()
    # Hold every user (ascending id, the documented order) so no grant commits figures that
    # this rebuild would then overwrite with what it computed before.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    mismatches = figures_mismatches()
    if mismatches:
        figures_refresh(None)
    logger.info("figures rebuilt: %s user(s) corrected", len(mismatches))
    return mismatches
