"""Rules in action: progress toward rule-driven achievements follows the users' measures, and
reaching the goal grants the award.

Three paths, all set-based over the measures:
  - `rules_apply_to_batch`, inside `events_record`: the rules of a batch's event types bring the
    progress of the batch's users to their new measures in one statement (only the rows whose
    capped measure moved); the users who
    crossed a goal are then granted the award through `award_grant_set` (a few statements per
    achievement, not per user), each dated at the `occurred_at` of the event whose arrival
    made the measure reach it;
  - `rule_evaluate`, when a rule is added or changed (registered with
    achievements.services.rules): every user's progress in one statement, and one set-based
    grant, dated now, to every user already past the goal;
  - `rules_apply_to_user`, when a user's time zone changed (events.services): that user's
    progress toward every rule of their types, and a grant, dated now, of what they reach.
A revoked award (`Progress.rule_revoked`) is never granted again by its rule.
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from achievements.models import Achievement, Award, Progress
from achievements.services.awards import award_grant_set
from events.models import EventDay, Measure
from users.models import User

logger = logging.getLogger(__name__)

# A rule's measure, as the Measure column that holds it.
MEASURE_COLUMNS = {
    "count": "event_count",
    "sum": "value_sum",
    "days": "days",
    "streak": "longest_streak",
}

_LEAST = {"postgresql": "LEAST", "sqlite": "MIN"}


@dataclass(frozen=True)
class Rule:
    achievement_id: int
    code: str
    event: str
    measure: str
    goal: int


def _measure_case(alias: str, rule_alias: str) -> str:
    whens = " ".join(
        f"WHEN '{name}' THEN {alias}.{column}" for name, column in MEASURE_COLUMNS.items()
    )
    return f"CASE {rule_alias}.measure {whens} END"


def rules_lock_for_types(types: Sequence[str]) -> list[Rule]:
    """The rules of these event types, their achievement rows held shared (step 1 of the lock
    order) so their goal and rule cannot change under the batch."""
    if not types:
        return []
    table = Achievement._meta.db_table
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    sql = (
        f"SELECT id, code, rule_event, rule_measure, goal FROM {table} "
        f"WHERE rule_event IN ({', '.join(['%s'] * len(types))}) ORDER BY id{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(types))
        return [Rule(*row) for row in cursor.fetchall()]


def _values_cte(name: str, columns: Sequence[str], rows: Sequence[Sequence]) -> tuple[str, list]:
    # A small literal table; the first row's CASTs give PostgreSQL its column types.
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    return f"{name} ({', '.join(columns)}) AS (VALUES {placeholders})", [
        value for row in rows for value in row
    ]


def _progress_upsert(sql_source: str, params: list, now: datetime) -> None:
    """Upsert progress rows (user_id, achievement_id, steps) from `sql_source`, a SELECT."""
    table = Progress._meta.db_table
    sql = (
        f"INSERT INTO {table} AS p (user_id, achievement_id, steps, updated_at, rule_revoked) "
        f"SELECT user_id, achievement_id, steps, %s, %s FROM ({sql_source}) AS s WHERE true "
        "ON CONFLICT (user_id, achievement_id) DO UPDATE SET steps = excluded.steps, "
        "updated_at = excluded.updated_at WHERE p.steps <> excluded.steps"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_datetime(now), False, *params])


def _datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _progress_source_sql(rules_cte: str, where: str) -> str:
    measure, award = Measure._meta.db_table, Award._meta.db_table
    least = _LEAST[connection.vendor]
    return (
        f"WITH {rules_cte} "
        f"SELECT m.user_id, r.achievement_id, {least}({_measure_case('m', 'r')}, r.goal) "
        f"AS steps FROM {measure} m JOIN rules r ON r.type = m.type "
        f"WHERE {where} AND NOT EXISTS (SELECT 1 FROM {award} w "
        "WHERE w.user_id = m.user_id AND w.achievement_id = r.achievement_id)"
    )


def _rules_rows(rules: Sequence[Rule]) -> list[tuple]:
    return [(r.achievement_id, r.event, r.measure, r.goal) for r in rules]


@dataclass
class AcceptedEvent:
    """What rules need of an accepted event: whose, what, when, where in the request."""

    index: int
    user_id: int
    type: str
    value: int
    occurred_at: datetime
    day: date


def _progress_upsert_rows(rows: Sequence[tuple[int, int, int]], now: datetime) -> None:
    """Upsert progress rows (user_id, achievement_id, steps), skipping users who hold the
    achievement (their progress sits at the goal): one statement."""
    table, award = Progress._meta.db_table, Award._meta.db_table
    if connection.vendor == "postgresql":
        source = (
            "SELECT * FROM jsonb_to_recordset(%s::jsonb) "
            "AS r (user_id bigint, achievement_id bigint, steps integer)"
        )
        params = [
            json.dumps(
                [
                    dict(zip(("user_id", "achievement_id", "steps"), row, strict=True))
                    for row in rows
                ]
            )
        ]
    else:
        source = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(rows))
        params = [value for row in rows for value in row]
    sql = (
        f"WITH r (user_id, achievement_id, steps) AS ({source}) "
        f"INSERT INTO {table} AS p (user_id, achievement_id, steps, updated_at, rule_revoked) "
        "SELECT r.user_id, r.achievement_id, r.steps, %s, %s FROM r "
        f"WHERE NOT EXISTS (SELECT 1 FROM {award} w WHERE w.user_id = r.user_id "
        "AND w.achievement_id = r.achievement_id) "
        "ON CONFLICT (user_id, achievement_id) DO UPDATE SET steps = excluded.steps, "
        "updated_at = excluded.updated_at WHERE p.steps <> excluded.steps"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _datetime(now), False])


def rules_apply_to_batch(
    *,
    rules: Sequence[Rule],
    accepted: Sequence[AcceptedEvent],
    before: dict[tuple[int, str], dict],
    after: dict[tuple[int, str], dict],
    by: AbstractBaseUser | None,
) -> dict[int, list[str]]:
    """Bring the batch users' progress to their new measures and grant what crossed a goal;
    returns the codes unlocked, by the request index of the event that unlocked them.

    `before` and `after` are the measures' figures of the batch's (user, type) pairs around
    the batch. Progress equals the measure capped at the goal for everyone who does not hold
    the award (every path keeps it so), so only the rows whose capped measure moved are
    written: one statement, none when nothing moved (a user past every goal)."""
    if not rules or not accepted:
        return {}
    now = timezone.now()
    # The batch's events by (user, type), in arrival order; each rule visits only its type's.
    by_pair: dict[tuple[int, str], list[AcceptedEvent]] = {}
    for event in accepted:
        by_pair.setdefault((event.user_id, event.type), []).append(event)
    users_of_type: dict[str, list[int]] = {}
    for user_id, type_ in sorted(by_pair):
        if (user_id, type_) in after:
            users_of_type.setdefault(type_, []).append(user_id)
    moved, crossed = [], []
    for rule in rules:
        field, goal = MEASURE_COLUMNS[rule.measure], rule.goal
        for user_id in users_of_type.get(rule.event, ()):
            figures = before.get((user_id, rule.event))
            old = figures[field] if figures is not None else 0
            new = after[(user_id, rule.event)][field]
            capped = new if new < goal else goal
            if (old if old < goal else goal) != capped:
                moved.append((user_id, rule.achievement_id, capped))
            if old < goal <= new:
                crossed.append((rule, user_id))
    if moved:
        _progress_upsert_rows(moved, now)
    if not crossed:
        return {}
    # By user alone: the per-user indexes answer it whatever the planner's estimates.
    crossing_users = {u for _r, u in crossed}
    held = set(
        Award.objects.filter(user_id__in=crossing_users)
        .order_by()
        .values_list("user_id", "achievement_id")
    )
    revoked = set(
        Progress.objects.filter(user_id__in=crossing_users, rule_revoked=True)
        .order_by()
        .values_list("user_id", "achievement_id")
    )
    crossing = sorted(
        (
            (rule, user_id)
            for rule, user_id in crossed
            if (user_id, rule.achievement_id) not in held | revoked
        ),
        key=lambda c: (c[1], c[0].achievement_id),
    )
    # The per-day rows of the days and streak crossings, in one read.
    day_pairs = {(u, r.event) for r, u in crossing if r.measure in ("days", "streak")}
    stored_days: dict[tuple[int, str], list[tuple[date, int]]] = {}
    if day_pairs:
        for user_id, type_, day, count in (
            EventDay.objects.filter(user_id__in={u for u, _t in day_pairs})
            .order_by()
            .values_list("user_id", "type", "day", "event_count")
        ):
            if (user_id, type_) in day_pairs:
                stored_days.setdefault((user_id, type_), []).append((day, count))
    unlocked: dict[int, list[str]] = {}
    dated: dict[int, dict[int, datetime]] = {}
    for rule, user_id in crossing:
        event = _crossing_event(
            rule,
            before.get((user_id, rule.event)),
            by_pair[(user_id, rule.event)],
            stored_days.get((user_id, rule.event), []),
        )
        dated.setdefault(rule.achievement_id, {})[user_id] = event.occurred_at
        unlocked.setdefault(event.index, []).append(rule.code)
    # One set-based grant per achievement, each user dated at their own crossing event.
    for achievement in Achievement.objects.filter(pk__in=dated).order_by("pk"):
        award_grant_set(achievement=achievement, awarded_at=dated[achievement.pk], by=by)
    return unlocked


def _crossing_event(
    rule: Rule,
    before: dict | None,
    events: list[AcceptedEvent],
    stored_days: list[tuple[date, int]],
) -> AcceptedEvent:
    """The event (in arrival order) whose arrival made the rule's measure reach the goal;
    `stored_days` are the (day, count) per-day rows after the batch."""
    if rule.measure in ("count", "sum"):
        total = before[MEASURE_COLUMNS[rule.measure]] if before else 0
        for event in events:
            total += 1 if rule.measure == "count" else event.value
            if total >= rule.goal:
                return event
        return events[-1]
    # days and streak: the days held before this batch, then each event's day in turn.
    batch_days: dict[date, int] = {}
    for event in events:
        batch_days[event.day] = batch_days.get(event.day, 0) + 1
    days = {day for day, count in stored_days if count - batch_days.get(day, 0) > 0}
    longest = before["longest_streak"] if before else 0
    for event in events:
        if event.day not in days:
            days.add(event.day)
            left = right = 0
            while event.day - timedelta(days=left + 1) in days:
                left += 1
            while event.day + timedelta(days=right + 1) in days:
                right += 1
            longest = max(longest, left + 1 + right)
        reached = len(days) if rule.measure == "days" else longest
        if reached >= rule.goal:
            return event
    return events[-1]


def rules_apply_to_user(*, rules: Sequence[Rule], user_id: int) -> list[str]:
    """Bring one user's progress toward `rules` to their measures as they stand, and grant,
    dated now, every rule's achievement whose goal the measure reached and that the user
    neither holds nor had revoked (after their time zone moved their days). Nothing is
    revoked: a measure that fell below a goal leaves an award held. Returns the codes
    granted. The caller holds the rules' achievement rows and the user's row."""
    if not rules:
        return []
    now = timezone.now()
    rules_cte, params = _values_cte(
        "rules", ("achievement_id", "type", "measure", "goal"), _rules_rows(rules)
    )
    _progress_upsert(_progress_source_sql(rules_cte, "m.user_id = %s"), [*params, user_id], now)
    measures = {m.type: m for m in Measure.objects.filter(user_id=user_id)}
    excluded = set(
        Award.objects.filter(user_id=user_id).values_list("achievement_id", flat=True)
    ) | set(
        Progress.objects.filter(user_id=user_id, rule_revoked=True).values_list(
            "achievement_id", flat=True
        )
    )
    reached = [
        rule.achievement_id
        for rule in rules
        if rule.achievement_id not in excluded
        and rule.event in measures
        and getattr(measures[rule.event], MEASURE_COLUMNS[rule.measure]) >= rule.goal
    ]
    granted = []
    for achievement in Achievement.objects.filter(pk__in=reached).order_by("pk"):
        if award_grant_set(achievement=achievement, user_ids=[user_id], awarded_at=now):
            granted.append(achievement.code)
    return granted


def rule_evaluate(*, achievement: Achievement, by: AbstractBaseUser | None = None) -> None:
    """Bring every user's progress toward `achievement` to its rule's measure (capped at the
    goal) and grant it, dated now, to those past the goal who neither hold it nor had it
    revoked. Set-based; the caller holds the achievement row exclusively."""
    now = timezone.now()
    rule = Rule(
        achievement.pk,
        achievement.code,
        achievement.rule_event,
        achievement.rule_measure,
        achievement.goal,
    )
    progress, award, measure = (
        Progress._meta.db_table,
        Award._meta.db_table,
        Measure._meta.db_table,
    )
    with connection.cursor() as cursor:
        # Progress that no measure of the new type backs is gone (0 steps), unless it
        # remembers a revocation.
        cursor.execute(
            f"DELETE FROM {progress} WHERE achievement_id = %s AND NOT rule_revoked "
            f"AND NOT EXISTS (SELECT 1 FROM {award} w WHERE w.user_id = {progress}.user_id "
            f"AND w.achievement_id = %s) AND NOT EXISTS (SELECT 1 FROM {measure} m "
            f"WHERE m.user_id = {progress}.user_id AND m.type = %s)",
            [rule.achievement_id, rule.achievement_id, rule.event],
        )
    rules_cte, params = _values_cte(
        "rules", ("achievement_id", "type", "measure", "goal"), _rules_rows([rule])
    )
    _progress_upsert(_progress_source_sql(rules_cte, "m.type = %s"), [*params, rule.event], now)
    column = MEASURE_COLUMNS[rule.measure]
    reached = list(
        Measure.objects.filter(type=rule.event, **{f"{column}__gte": rule.goal})
        .exclude(
            user_id__in=Award.objects.filter(achievement_id=rule.achievement_id).values("user_id")
        )
        .exclude(
            user_id__in=Progress.objects.filter(
                achievement_id=rule.achievement_id, rule_revoked=True
            ).values("user_id")
        )
        .values_list("user_id", flat=True)
    )
    granted = len(award_grant_set(achievement=achievement, user_ids=reached, awarded_at=now, by=by))
    logger.info(
        "rule of %s (%s of %s) applied: %s user(s) granted",
        rule.code,
        rule.measure,
        rule.event,
        granted,
    )


def rule_progress_source(*, user: User, achievement: Achievement) -> int:
    """The user's measure for the achievement's rule (0 with no events of that type)."""
    measure = Measure.objects.filter(user=user, type=achievement.rule_event).first()
    if measure is None:
        return 0
    return getattr(measure, MEASURE_COLUMNS[achievement.rule_measure])
