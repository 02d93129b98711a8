"""Every grant and revocation goes through these functions.

The API, the admin, the management commands and the demo seeding all call them, so the rules
and the stored figures cannot drift between write paths: each user's count, points and longest
streak, and the per-period figures (PeriodFigure: one row per user and day, week, month and
year with an award) that the period leaderboards read.

The lock order, followed by every write in the project so that concurrent writes cannot
deadlock:
  1. the achievement row: shared by grants and revocations (its points must not change under
     them), exclusive by a points change or a deletion;
  2. then user rows, in ascending id;
  3. then a user's progress row toward that achievement (achievements.services.progress),
     exclusive, taken only while holding that user's row;
  4. last, the feed lock (an advisory lock, PostgreSQL only), right before the activity entry
     is written and held to commit. No row lock is waited for after it: a transaction that
     writes awards for several users locks all of them first (award_grant_many), and a progress
     row is only ever locked by a holder of its user's row.
Events (events.services) put one lock before all these: per event type, shared by a batch
of events, exclusive by a change of the rules of that type (core.db.event_types_lock). A batch
then takes the achievement rows of its types' rules shared (1), its users' rows (2), the
unique index entries of its event ids in ascending order, and the per-day, measure and
progress rows of those users. A change of a user's time zone (users.services.user_update)
takes the same first locks, before the user's row: the types of that user's measures,
shared (0), their rules' achievement rows, shared (1), then the user's row (2), then the
user's per-day, measure and progress rows; a rule it grants goes through award_grant_set
under those locks. Only a type it finds after holding the user's row (a batch committed in
between) is tried without waiting, and a failure is a conflict, never an out-of-order wait.
A grant or revocation therefore serializes with other writes to the same user, and a points
or goal change waits for grants and progress of that achievement in flight (and they for it).
Every award has a progress row at the goal: a grant sets it there, a revocation removes it
(steps back to 0). Period rows belong to their user: they are written only while that user's
row is held, so they need no lock of their own (a points change holds every holder's row
before moving their period rows).

Every grant and revocation writes one activity entry in its own transaction. Feed ids come from
a sequence at insert time, so without the feed lock a reader could see id 6 commit while id 5 is
still in flight and move its cursor past 5 for ever. Under the feed lock ids are handed out and
committed one writer at a time, so ids increase in commit order and `id > after` never skips.
The lock is held only from the entry's insert to commit (the last statements of the write).
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from achievements.models import ACTIVITY_REASON_MAX_LENGTH, Achievement, Activity, Award, Progress
from achievements.queries import figures_refresh, period_figures_add, period_figures_remove
from achievements.services.rules import rule_progress
from core.db import advisory_lock_xact, row_lock_shared_values
from users.models import User

logger = logging.getLogger(__name__)

# Award times before this are refused: nothing was awarded before the Unix epoch, and far-past
# values overflow time-zone arithmetic on some databases.
EARLIEST_AWARD = datetime(1970, 1, 1, tzinfo=UTC)

# The advisory lock key of the feed lock (any constant no other lock uses).
FEED_LOCK_KEY = 7_202_415_001


def achievement_lock_shared(achievement: Achievement) -> None:
    """Hold the achievement row so its points and goal cannot change until this transaction
    ends, and refresh `achievement.goal` as read under the lock; raise
    Achievement.DoesNotExist if it has been deleted meanwhile."""
    row = row_lock_shared_values(Achievement, achievement.pk, "goal")
    if row is None:
        raise Achievement.DoesNotExist(f"Achievement {achievement.code!r} no longer exists.")
    (achievement.goal,) = row


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


def _activity_record(
    kind: str,
    *,
    user: User,
    achievement: Achievement,
    at: datetime,
    by: AbstractBaseUser | None,
    reason: str | None = None,
) -> Activity:
    # The feed lock: last in the lock order, held to commit (see the module docstring).
    advisory_lock_xact(FEED_LOCK_KEY)
    return Activity.objects.create(
        type=kind,
        user=user.username,
        achievement=achievement.code,
        # From the row this transaction holds, not the caller's copy, which may be stale.
        points=Achievement.objects.filter(pk=achievement.pk).values_list("points", flat=True)[0],
        at=at,
        by=by.get_username() if by else "",
        reason=reason or "",
    )


def user_lock(user: User) -> User:
    """Hold the user's row until this transaction ends (step 2 of the lock order); raises
    User.DoesNotExist if the user has been deleted meanwhile."""
    return User.objects.select_for_update().get(pk=user.pk)


def _progress_complete(*, user: User, achievement: Achievement) -> None:
    """Put the holder's progress at the goal (the caller holds the user's row)."""
    now = timezone.now()
    # Any grant gives back what a revocation took from the rule (rule_revoked).
    done = Progress.objects.filter(user=user, achievement=achievement).update(
        steps=achievement.goal, updated_at=now, rule_revoked=False
    )
    if not done:
        Progress.objects.create(
            user=user, achievement=achievement, steps=achievement.goal, updated_at=now
        )


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
    user_lock(user)
    existing = Award.objects.filter(user=user, achievement=achievement).first()
    if existing is not None:
        return existing, False
    award = Award.objects.create(
        user=user, achievement=achievement, awarded_at=awarded_at, awarded_by=by
    )
    _progress_complete(user=user, achievement=achievement)
    figures_refresh(user.pk)
    period_figures_add(award.pk)
    _activity_record(Activity.GRANTED, user=user, achievement=achievement, at=awarded_at, by=by)
    _audit("award_granted", achievement=achievement, user=user, by=by, awarded_at=awarded_at)
    return award, True


@transaction.atomic
def award_grant_many(
    *, users: Iterable[User], achievement: Achievement, by: AbstractBaseUser | None = None
) -> tuple[int, int]:
    """Give one achievement to many users at once; returns (newly awarded, already held)."""
    newly = already = 0
    users = sorted(users, key=lambda u: u.pk)
    achievement_lock_shared(achievement)
    # Every user row first, in ascending id: the first grant takes the feed lock, after which
    # this transaction must not wait for another row lock.
    list(User.objects.select_for_update().filter(pk__in=[u.pk for u in users]).order_by("pk"))
    for user in users:
        _award, created = award_grant(user=user, achievement=achievement, by=by)
        if created:
            newly += 1
        else:
            already += 1
    return newly, already


# Users per set-based statement: far below SQLite's 32,766 parameters.
FIGURES_CHUNK = 5000


@transaction.atomic
def award_grant_set(
    *,
    achievement: Achievement,
    awarded_at: datetime | Mapping[int, datetime],
    user_ids: Iterable[int] | None = None,
    by: AbstractBaseUser | None = None,
) -> list[int]:
    """Give `achievement` to many users in a few statements per 5,000 users (a rule reaching
    its goal for many at once): to `user_ids` at one moment, or to each user of a mapping at
    its own moment. Those who hold it keep their award. The caller holds the achievement row;
    this holds the users' rows (ascending id), so the set-based figures refresh of exactly
    those users cannot overwrite a concurrent write. Returns the ids newly awarded."""
    dated = (
        dict(awarded_at)
        if isinstance(awarded_at, Mapping)
        else dict.fromkeys(user_ids or [], awarded_at)
    )
    for moment in set(dated.values()):
        award_time_validate(moment)
    ordered = sorted(dated)
    granted: list[int] = []
    recorded: list[tuple[int, str]] = []
    for start in range(0, len(ordered), FIGURES_CHUNK):
        chunk = ordered[start : start + FIGURES_CHUNK]
        names = dict(
            User.objects.filter(pk__in=chunk)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "username")
        )
        held = set(
            Award.objects.filter(achievement=achievement, user_id__in=chunk).values_list(
                "user_id", flat=True
            )
        )
        new = [uid for uid in chunk if uid not in held and uid in names]
        if not new:
            continue
        awards = Award.objects.bulk_create(
            [
                Award(user_id=uid, achievement=achievement, awarded_at=dated[uid], awarded_by=by)
                for uid in new
            ]
        )
        # Each new award counts in its periods (the users' rows are held: they own the rows).
        for award in awards:
            period_figures_add(award.pk)
        now = timezone.now()
        Progress.objects.filter(achievement=achievement, user_id__in=new).update(
            steps=achievement.goal, updated_at=now, rule_revoked=False
        )
        with_progress = set(
            Progress.objects.filter(achievement=achievement, user_id__in=new).values_list(
                "user_id", flat=True
            )
        )
        Progress.objects.bulk_create(
            [
                Progress(
                    user_id=uid, achievement=achievement, steps=achievement.goal, updated_at=now
                )
                for uid in new
                if uid not in with_progress
            ]
        )
        figures_refresh(new)
        for uid in new:
            _audit(
                "award_granted",
                achievement=achievement,
                user=User(pk=uid, username=names[uid]),
                by=by,
                awarded_at=dated[uid],
            )
            recorded.append((uid, names[uid]))
        granted += new
    if recorded:
        # One activity entry per new award, as award_grant writes; the feed lock last of all,
        # after every chunk's row locks (the lock order above).
        advisory_lock_xact(FEED_LOCK_KEY)
        points = Achievement.objects.filter(pk=achievement.pk).values_list("points", flat=True)[0]
        Activity.objects.bulk_create(
            [
                Activity(
                    type=Activity.GRANTED,
                    user=username,
                    achievement=achievement.code,
                    points=points,
                    at=dated[uid],
                    by=by.get_username() if by else "",
                )
                for uid, username in recorded
            ]
        )
    return granted


@transaction.atomic
def award_revoke(
    *,
    user: User,
    achievement: Achievement,
    by: AbstractBaseUser | None = None,
    reason: str | None = None,
) -> None:
    """Take `achievement` back from `user`, recording `reason` (up to 500 characters) in the
    activity; raises Award.DoesNotExist if they do not hold it."""
    if reason is not None and len(reason) > ACTIVITY_REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [f"Give at most {ACTIVITY_REASON_MAX_LENGTH} characters."]}
        )
    achievement_lock_shared(achievement)
    user_lock(user)
    award = Award.objects.filter(user=user, achievement=achievement).first()
    if award is None:
        raise Award.DoesNotExist(f"{user.username} does not hold {achievement.code}.")
    # While the award is still there: its periods are computed from it.
    period_figures_remove(award.pk, user.pk)
    award.delete()
    if achievement.rule is None:
        # Steps back to 0: the user starts over toward it.
        Progress.objects.filter(user=user, achievement=achievement).delete()
    else:
        # Progress keeps following the rule's measure, and the rule will not grant it again.
        Progress.objects.update_or_create(
            user=user,
            achievement=achievement,
            defaults={
                "steps": rule_progress(user=user, achievement=achievement),
                "updated_at": timezone.now(),
                "rule_revoked": True,
            },
        )
    figures_refresh(user.pk)
    _activity_record(
        Activity.REVOKED,
        user=user,
        achievement=achievement,
        at=timezone.now(),
        by=by,
        reason=reason,
    )
    _audit("award_revoked", achievement=achievement, user=user, by=by, awarded_at=None)
