"""Every grant and revocation goes through these functions.

The API, the admin, the management commands and the demo seeding all call them, so the rules
and the stored figures cannot drift between write paths: each user's count, points and longest
streak, and the per-period figures (PeriodFigure: one row per user and day, week, month and
year with an award) that the period leaderboards read.

The lock order, followed by every write in the project so that concurrent writes cannot
deadlock:
  1. the achievement row: shared by grants and revocations (its points must not change under
     them), exclusive by a points change or a deletion;
  2. then user rows, in ascending id.
A grant or revocation therefore serializes with other writes to the same user, and a points
change waits for grants of that achievement in flight (and they for it). Period rows belong to
their user: they are written only while that user's row is held, so they need no lock of their
own (a points change holds every holder's row before moving their period rows).
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from achievements.models import Achievement, Award
from achievements.queries import figures_refresh, period_figures_add, period_figures_remove
from core.db import row_lock_shared
from users.models import User

logger = logging.getLogger(__name__)

# Award times before this are refused: nothing was awarded before the Unix epoch, and far-past
# values overflow time-zone arithmetic on some databases.
EARLIEST_AWARD = datetime(1970, 1, 1, tzinfo=UTC)


def achievement_lock_shared(achievement: Achievement) -> None:
    """Hold the achievement row so its points cannot change until this transaction ends;
    raise Achievement.DoesNotExist if it has been deleted meanwhile."""
    if not row_lock_shared(Achievement, achievement.pk):
        raise Achievement.DoesNotExist(f"Achievement {achievement.code!r} no longer exists.")


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
    achievement_lock_shared(achievement)
    # Holding the user's row makes check-then-insert safe: identical requests queue here.
    _lock_user(user)
    existing = Award.objects.filter(user=user, achievement=achievement).first()
    if existing is not None:
        return existing, False
    award = Award.objects.create(
        user=user, achievement=achievement, awarded_at=awarded_at, awarded_by=by
    )
    figures_refresh(user.pk)
    period_figures_add(award.pk)
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
    achievement_lock_shared(achievement)
    _lock_user(user)
    award = Award.objects.filter(user=user, achievement=achievement).first()
    if award is None:
        raise Award.DoesNotExist(f"{user.username} does not hold {achievement.code}.")
    # While the award is still there: its periods are computed from it.
    period_figures_remove(award.pk, user.pk)
    award.delete()
    figures_refresh(user.pk)
    _audit("award_revoked", achievement=achievement, user=user, by=by, awarded_at=None)
