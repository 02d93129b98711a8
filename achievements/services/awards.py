"""Every grant and revocation goes through these functions.

One grant or many, every grant goes through one core: `_awards_insert` (or, for a single grant,
`_award_lock_and_insert`, which folds the achievement's and the user's locks into the insert)
and `_grants_complete` for its effects, then `_activity_record`. So a grant writes the same
rows whichever path made it. On PostgreSQL a new single grant is two statements between
BEGIN and COMMIT: the achievement's shared lock (reading points and goal) with the user's lock
and the insert; then progress with the holder count, the figures and the period figures, and,
once they are written, the feed lock with the activity entry. A repeat stops after the
first.

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
Holder counts (HolderCount) stand outside this order because no one ever waits for them: a
grant or revocation adds to whichever of the achievement's counter rows no other transaction
holds (FOR UPDATE SKIP LOCKED), or inserts a new one, so they can be written after the feed
lock too (a transaction granting several achievements) without a deadlock.
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
from django.db import connection, transaction
from django.utils import timezone

from achievements.models import ACTIVITY_REASON_MAX_LENGTH, Achievement, Activity, Award, Progress
from achievements.queries import (
    figures_refresh,
    grant_effects_apply,
    holders_add,
    period_figures_remove,
)
from achievements.services.rules import rule_progress
from core.db import row_lock_shared_values
from users.models import User

logger = logging.getLogger(__name__)

# Award times before this are refused: nothing was awarded before the Unix epoch, and far-past
# values overflow time-zone arithmetic on some databases.
EARLIEST_AWARD = datetime(1970, 1, 1, tzinfo=UTC)

# The advisory lock key of the feed lock (any constant no other lock uses).
FEED_LOCK_KEY = 7_202_415_001
# The function taking it (bench/writes_benchmark.py swaps in the shared variant, which
# serializes nothing, to measure what the lock costs).
FEED_LOCK_FUNCTION = "pg_advisory_xact_lock"


def achievement_lock_shared(achievement: Achievement) -> None:
    """Hold the achievement row so its points and goal cannot change until this transaction
    ends, and refresh `achievement.goal` and `.points` as read under the lock; raise
    Achievement.DoesNotExist if it has been deleted meanwhile."""
    row = row_lock_shared_values(Achievement, achievement.pk, "goal", "points")
    if row is None:
        raise Achievement.DoesNotExist(f"Achievement {achievement.code!r} no longer exists.")
    achievement.goal, achievement.points = row


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
    username: str,
    by: AbstractBaseUser | None,
    awarded_at: datetime | None,
) -> None:
    """Log who gave or took what from whom (the user named `username`), once the transaction
    has committed."""
    fields = {
        "event": event,
        "achievement": achievement.code,
        "user": username,
        "by": by.get_username() if by else None,
        "at": (awarded_at or timezone.now()).isoformat(),
    }
    verb = "granted to" if event == "award_granted" else "revoked from"
    message = "award %s %s %s by %s at %s"
    args = (achievement.code, verb, username, fields["by"] or "system", fields["at"])
    transaction.on_commit(lambda: logger.info(message, *args, extra=fields))


def _activity_record(
    kind: str,
    *,
    achievement: Achievement,
    entries: list[tuple[str, datetime]],
    by: AbstractBaseUser | None,
    reason: str | None = None,
) -> None:
    """One feed entry per (username, moment), at the points read under the achievement's
    lock. Takes the feed lock: last in the lock order, held to commit (module docstring)."""
    if not entries:
        return
    by_name = by.get_username() if by else ""
    if connection.vendor != "postgresql":
        Activity.objects.bulk_create(
            Activity(
                type=kind,
                user=username,
                achievement=achievement.code,
                points=achievement.points,
                at=at,
                by=by_name,
                reason=reason or "",
            )
            for username, at in entries
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(*_activity_insert_sql(kind, achievement, entries, by_name, reason))


def _activity_insert_sql(
    kind: str,
    achievement: Achievement,
    entries: list[tuple[str, datetime]],
    by_name: str,
    reason: str | None,
    *,
    condition: str = "TRUE",
) -> tuple[str, list]:
    """The statement taking the feed lock and inserting the entries (PostgreSQL), the lock
    taken once `condition` (SQL) holds and before any row (and so any id from the sequence)
    is produced: (SQL, parameters)."""
    return (
        f"""
        INSERT INTO {Activity._meta.db_table}
            (type, "user", achievement, points, at, by, reason)
        SELECT %s, e.username, %s, %s::integer, e.at, %s, %s
        FROM (SELECT {FEED_LOCK_FUNCTION}(%s) WHERE {condition}) AS feed,
             unnest(%s::text[], %s::timestamptz[]) AS e(username, at)
        """,
        [
            kind,
            achievement.code,
            achievement.points,
            by_name,
            reason or "",
            FEED_LOCK_KEY,
            [username for username, _at in entries],
            [at for _username, at in entries],
        ],
    )


def user_lock(user: User) -> User:
    """Hold the user's row until this transaction ends (step 2 of the lock order); raises
    User.DoesNotExist if the user has been deleted meanwhile."""
    return User.objects.select_for_update().get(pk=user.pk)


def _users_lock(user_ids: list[int]) -> dict[int, str]:
    """Hold the rows of those of `user_ids` that exist (ascending id, step 2 of the lock
    order); returns {id: username}."""
    return dict(
        User.objects.filter(pk__in=user_ids)
        .order_by("pk")
        .select_for_update()
        .values_list("pk", "username")
    )


def _awards_insert(
    achievement: Achievement, dated: Mapping[int, datetime], by: AbstractBaseUser | None
) -> dict[int, int]:
    """Insert the awards of `achievement` to the users of `dated` (their rows held by the
    caller) at their moments, skipping those already held; returns {user id: new award id}."""
    if not dated:
        return {}
    adapt = connection.ops.adapt_datetimefield_value
    by_id = by.pk if by else None
    values = ", ".join(["(%s, %s, %s, %s)"] * len(dated))
    params = [v for uid, at in dated.items() for v in (uid, achievement.pk, adapt(at), by_id)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Award._meta.db_table} (user_id, achievement_id, awarded_at, "
            f"awarded_by_id) VALUES {values} "
            "ON CONFLICT (user_id, achievement_id) DO NOTHING RETURNING user_id, id",
            params,
        )
        return dict(cursor.fetchall())


def _award_lock_and_insert(
    *, user: User, achievement: Achievement, awarded_at: datetime, by: AbstractBaseUser | None
) -> tuple[Award, bool]:
    """Hold the achievement's row shared (refreshing its goal and points), then the user's
    row (steps 1 and 2 of the lock order), and give them the award unless they hold it:
    (award, created). One statement on PostgreSQL. Raises Achievement.DoesNotExist or
    User.DoesNotExist if either has been deleted meanwhile."""
    award = Award(user=user, achievement=achievement, awarded_at=awarded_at, awarded_by=by)
    if connection.vendor == "postgresql":
        award_table = Award._meta.db_table
        with connection.cursor() as cursor:
            # The user's row reaches its lock only past the EXISTS on `held`, whose scan
            # takes the achievement's lock: whatever the plan, achievement before user. The
            # award already held, if any, comes back from the same statement. After waiting
            # for the user's row, the statement's snapshot may predate the award that
            # conflicted: then no award comes back and the fallback below reads it.
            cursor.execute(
                f"""
                WITH held AS (
                    SELECT goal, points FROM {Achievement._meta.db_table}
                    WHERE id = %s FOR SHARE
                ),
                locked AS (
                    SELECT id FROM {User._meta.db_table}
                    WHERE id = %s AND EXISTS (SELECT 1 FROM held) FOR UPDATE
                ),
                inserted AS (
                    INSERT INTO {award_table} (user_id, achievement_id, awarded_at, awarded_by_id)
                    SELECT id, %s::bigint, %s::timestamptz, %s::bigint FROM locked
                    ON CONFLICT (user_id, achievement_id) DO NOTHING
                    RETURNING id, awarded_at, awarded_by_id
                )
                SELECT held.goal, held.points, award.* FROM held LEFT JOIN (
                    SELECT id, awarded_at, awarded_by_id, TRUE AS created FROM inserted
                    UNION ALL
                    SELECT id, awarded_at, awarded_by_id, FALSE FROM {award_table}
                    WHERE user_id = %s AND achievement_id = %s
                ) AS award ON TRUE
                """,
                [
                    achievement.pk,
                    user.pk,
                    achievement.pk,
                    awarded_at,
                    by.pk if by else None,
                    user.pk,
                    achievement.pk,
                ],
            )
            row = cursor.fetchone()
        if row is None:
            raise Achievement.DoesNotExist(f"Achievement {achievement.code!r} no longer exists.")
        achievement.goal, achievement.points = row[:2]
        if row[2] is not None:
            award.pk, award.awarded_at, award.awarded_by_id, created = row[2:]
            return award, created
    else:
        achievement_lock_shared(achievement)
        if not _users_lock([user.pk]):
            raise User.DoesNotExist(f"User {user.username!r} no longer exists.")
        new = _awards_insert(achievement, {user.pk: awarded_at}, by)
        if new:
            award.pk = new[user.pk]
            return award, True
    existing = Award.objects.filter(user_id=user.pk, achievement_id=achievement.pk).first()
    if existing is None:
        raise User.DoesNotExist(f"User {user.username!r} no longer exists.")
    existing.user, existing.achievement = user, achievement
    return existing, False


def _grants_complete(
    *,
    achievement: Achievement,
    new: Mapping[int, int],
    names: Mapping[int, str],
    dated: Mapping[int, datetime],
    by: AbstractBaseUser | None,
    feed: tuple[str, datetime] | None = None,
) -> bool:
    """Every effect of new awards of one achievement, the same for one grant or many: the
    holders' progress at the goal, the holder count, their figures, their period figures and
    the audit log. The feed entries come last (`_activity_record`), once per transaction
    part, after every row lock; `feed`, one grant's (username, moment), asks for its entry
    here, last in the effects' statement, on PostgreSQL. True when that entry was written."""
    # Each new award also counts in its periods (the users' rows are held: they own them).
    # A single grant on PostgreSQL writes its feed entry in the same statement, once every
    # effect is written: the feed lock stays last, and the grant saves a round trip.
    then = None
    if feed and connection.vendor == "postgresql":
        (username, at), by_name = feed, by.get_username() if by else ""
        then = _activity_insert_sql(
            Activity.GRANTED,
            achievement,
            [(username, at)],
            by_name,
            None,
            condition="{after_effects}",
        )
    grant_effects_apply(achievement.pk, achievement.goal, new, timezone.now(), then=then)
    for uid in sorted(new):
        _audit(
            "award_granted",
            achievement=achievement,
            username=names[uid],
            by=by,
            awarded_at=dated[uid],
        )
    return then is not None


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
    # Holding the achievement's row keeps its points and goal; holding the user's row makes
    # the insert and the figures safe: identical requests queue.
    award, created = _award_lock_and_insert(
        user=user, achievement=achievement, awarded_at=awarded_at, by=by
    )
    if not created:
        return award, False
    dated = {user.pk: awarded_at}
    recorded = _grants_complete(
        achievement=achievement,
        new={user.pk: award.pk},
        names={user.pk: user.username},
        dated=dated,
        by=by,
        feed=(user.username, awarded_at),
    )
    if not recorded:
        _activity_record(
            Activity.GRANTED, achievement=achievement, entries=[(user.username, awarded_at)], by=by
        )
    return award, True


@transaction.atomic
def award_grant_many(
    *, users: Iterable[User], achievement: Achievement, by: AbstractBaseUser | None = None
) -> tuple[int, int]:
    """Give one achievement to many users at once, now; returns (newly awarded, already
    held)."""
    users = list(users)
    achievement_lock_shared(achievement)
    newly = len(
        award_grant_set(
            achievement=achievement,
            awarded_at=timezone.now(),
            user_ids=[u.pk for u in users],
            by=by,
        )
    )
    return newly, len(users) - newly


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
    if not dated:
        return []
    # Points and goal as held (the caller holds the row; this re-reads it under the lock).
    achievement_lock_shared(achievement)
    ordered = sorted(dated)
    granted: list[int] = []
    entries: list[tuple[str, datetime]] = []
    for start in range(0, len(ordered), FIGURES_CHUNK):
        chunk = ordered[start : start + FIGURES_CHUNK]
        names = _users_lock(chunk)
        new = _awards_insert(achievement, {uid: dated[uid] for uid in chunk if uid in names}, by)
        if not new:
            continue
        _grants_complete(achievement=achievement, new=new, names=names, dated=dated, by=by)
        granted += sorted(new)
        entries += [(names[uid], dated[uid]) for uid in sorted(new)]
    # One activity entry per new award, as award_grant writes; the feed lock last of all,
    # after every chunk's row locks (the lock order above).
    _activity_record(Activity.GRANTED, achievement=achievement, entries=entries, by=by)
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
    holders_add(achievement.pk, -1)
    _activity_record(
        Activity.REVOKED,
        achievement=achievement,
        entries=[(user.username, timezone.now())],
        by=by,
        reason=reason,
    )
    _audit("award_revoked", achievement=achievement, username=user.username, by=by, awarded_at=None)
