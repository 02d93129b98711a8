"""Raw SQL for the figures kept on each user: counts, points and the longest streak of days.

One query, `expected figures`, derives every figure from the awards. The write path runs it for
one user; `rebuild_stats` runs it for everyone (set-based, one gaps-and-islands pass). Where
PostgreSQL and SQLite differ, the two spellings sit side by side in `_DIALECTS`. Values always
travel as parameters; only table names (from model metadata) are formatted into the text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models.functions import TruncDate
from django.utils import timezone

from achievements.models import Achievement, Award, Progress
from users.models import User

_DIALECTS = {
    "postgresql": {
        # A date minus an integer is a date: consecutive days share one island key.
        "island_key": (
            "day - CAST(ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY day) AS integer)"
        ),
        "differs": "IS DISTINCT FROM",
    },
    "sqlite": {
        # SQLite keeps dates as ISO text; julianday() makes them countable.
        "island_key": "julianday(day) - ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY day)",
        "differs": "IS NOT",
    },
}


def _dialect() -> dict:
    return _DIALECTS[connection.vendor]


def _award_days_sql(user_id: int | None) -> tuple[str, tuple]:
    """SQL for the distinct (user_id, day) pairs, the day taken in TIME_ZONE.

    The ORM writes the time-zone conversion, which each backend spells differently.
    """
    days = Award.objects.order_by().annotate(
        day=TruncDate("awarded_at", tzinfo=timezone.get_default_timezone())
    )
    if isinstance(user_id, int):
        days = days.filter(user_id=user_id)
    elif user_id is not None:
        days = days.filter(user_id__in=user_id)
    return days.values("user_id", "day").distinct().query.sql_with_params()


def _expected_figures_sql(user_id: int | Sequence[int] | None) -> tuple[str, list]:
    """A CTE named `expected`: (id, username, achievements_count, points, longest_streak,
    streak_start, streak_end) for every user, or for one, computed from the awards alone."""
    days_sql, days_params = _award_days_sql(user_id)
    award = Award._meta.db_table
    achievement = Achievement._meta.db_table
    user = User._meta.db_table
    ids = [user_id] if isinstance(user_id, int) else list(user_id or [])
    placeholders = ", ".join(["%s"] * len(ids))
    only_user = f"WHERE w.user_id IN ({placeholders})" if user_id is not None else ""
    only_user_u = f"WHERE u.id IN ({placeholders})" if user_id is not None else ""
    sql = f"""
        WITH days AS ({days_sql}),
        islands AS (
            SELECT user_id, day, {_dialect()["island_key"]} AS island FROM days
        ),
        runs AS (
            SELECT user_id, MIN(day) AS first_day, MAX(day) AS last_day, COUNT(*) AS length,
                   -- The longest run; of equally long runs, the latest.
                   ROW_NUMBER() OVER (
                       PARTITION BY user_id ORDER BY COUNT(*) DESC, MAX(day) DESC
                   ) AS pick
            FROM islands GROUP BY user_id, island
        ),
        totals AS (
            SELECT w.user_id, COUNT(*) AS achievements_count, SUM(a.points) AS points
            FROM {award} w JOIN {achievement} a ON a.id = w.achievement_id
            {only_user}
            GROUP BY w.user_id
        ),
        expected AS (
            SELECT u.id, u.username,
                   COALESCE(t.achievements_count, 0) AS achievements_count,
                   COALESCE(t.points, 0) AS points,
                   COALESCE(r.length, 0) AS longest_streak,
                   r.first_day AS streak_start,
                   r.last_day AS streak_end
            FROM {user} u
            LEFT JOIN totals t ON t.user_id = u.id
            LEFT JOIN runs r ON r.user_id = u.id AND r.pick = 1
            {only_user_u}
        )
    """
    params = list(days_params)
    if user_id is not None:
        params += [*ids, *ids]
    return sql, params


_FIGURES = ("achievements_count", "points", "longest_streak", "streak_start", "streak_end")


def _differs_condition(stored: str) -> str:
    differs = _dialect()["differs"]
    return " OR ".join(f"{stored}.{f} {differs} expected.{f}" for f in _FIGURES)


def figures_refresh(user_id: int | Sequence[int] | None = None) -> None:
    """Rewrite the stored figures that differ from the awards, for one user, some (at most a
    few thousand ids per call) or all."""
    if user_id is not None and not isinstance(user_id, int) and not user_id:
        return
    sql, params = _expected_figures_sql(user_id)
    table = User._meta.db_table
    assignments = ", ".join(f"{f} = expected.{f}" for f in _FIGURES)
    sql += f"""
        UPDATE {table} SET {assignments}
        FROM expected
        WHERE {table}.id = expected.id AND ({_differs_condition(table)})
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@dataclass(frozen=True)
class FigureMismatch:
    """A user whose stored figures differ from what their awards say."""

    username: str
    stored: dict
    expected: dict


def figures_mismatches() -> list[FigureMismatch]:
    """Every user whose stored figures differ from the ones their awards give."""
    sql, params = _expected_figures_sql(None)
    stored_cols = ", ".join(f"u.{f}" for f in _FIGURES)
    expected_cols = ", ".join(f"expected.{f}" for f in _FIGURES)
    sql += f"""
        SELECT expected.username, {stored_cols}, {expected_cols}
        FROM expected JOIN {User._meta.db_table} u ON u.id = expected.id
        WHERE {_differs_condition("u")}
        ORDER BY expected.username
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    n = len(_FIGURES)
    return [
        FigureMismatch(
            username=row[0],
            stored=dict(zip(_FIGURES, _normalize(row[1 : 1 + n]), strict=True)),
            expected=dict(zip(_FIGURES, _normalize(row[1 + n :]), strict=True)),
        )
        for row in rows
    ]


def _normalize(values) -> list:
    # SQLite hands dates back as ISO strings; make both backends report dates.
    return [date.fromisoformat(v) if isinstance(v, str) else v for v in values]


def progress_fill_from_awards() -> int:
    """Put every held achievement's progress at its goal, adding the rows that are missing
    (bulk loads bypass `award_grant`); returns how many rows were added."""
    progress, award, achievement = (
        Progress._meta.db_table,
        Award._meta.db_table,
        Achievement._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {progress} SET steps = (SELECT c.goal FROM {achievement} c "
            f"WHERE c.id = {progress}.achievement_id) "
            f"WHERE EXISTS (SELECT 1 FROM {award} a WHERE a.user_id = {progress}.user_id "
            f"AND a.achievement_id = {progress}.achievement_id) "
            f"AND steps <> (SELECT c.goal FROM {achievement} c "
            f"WHERE c.id = {progress}.achievement_id)"
        )
        cursor.execute(
            f"INSERT INTO {progress} (user_id, achievement_id, steps, updated_at) "
            f"SELECT a.user_id, a.achievement_id, c.goal, a.awarded_at FROM {award} a "
            f"JOIN {achievement} c ON c.id = a.achievement_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {progress} p "
            "WHERE p.user_id = a.user_id AND p.achievement_id = a.achievement_id)"
        )
        return cursor.rowcount
