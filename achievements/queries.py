"""Raw SQL for the figures kept on each user (counts, points and the longest streak of days)
and for the per-period figures behind the period leaderboards.

One query, `expected figures`, derives every figure from the awards. The write path runs it for
one user; `rebuild_stats` runs it for everyone (set-based, one gaps-and-islands pass). A user's
days are taken in that user's own `time_zone`, converted inside the database: PostgreSQL with
`AT TIME ZONE` and its tz database, SQLite with the zoneinfo function Django registers on every
SQLite connection (`django_datetime_cast_date`). Period figures take days in the service's
TIME_ZONE. Where
PostgreSQL and SQLite differ, the two spellings sit side by side in `_DIALECTS`. Values always
travel as parameters; only table names (from model metadata) are formatted into the text.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.db import connection, models

from achievements.models import Achievement, Award, HolderCount, PeriodFigure, Progress
from users.models import User

_DIALECTS = {
    "postgresql": {
        # A date minus an integer is a date: consecutive days share one island key.
        "island_key": (
            "day - CAST(ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY day) AS integer)"
        ),
        "differs": "IS DISTINCT FROM",
        # The award's calendar day in the zone named by the second expression.
        "local_day": "CAST(({0} AT TIME ZONE {1}) AS date)",
        # The first day of the day/week/month/year containing it (weeks start on Monday).
        "period_start": "CAST(date_trunc({2}, {0} AT TIME ZONE {1}) AS date)",
        # The same from a date already in the zone.
        "date_period_start": "CAST(date_trunc({1}, CAST({0} AS timestamp)) AS date)",
    },
    "sqlite": {
        # SQLite keeps dates as ISO text; julianday() makes them countable.
        "island_key": "julianday(day) - ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY day)",
        "differs": "IS NOT",
        # Django's own SQLite functions, converting with zoneinfo; stored times are UTC.
        "local_day": "django_datetime_cast_date({0}, {1}, 'UTC')",
        "period_start": "django_date_trunc({2}, {0}, {1}, 'UTC')",
        "date_period_start": "django_date_trunc({1}, {0}, NULL, NULL)",
    },
}


def _compact(sql: str) -> str:
    """`sql` without its indentation and blank lines (line ends, and so `--` comments, kept):
    psycopg converts a statement's placeholders once and caches the result only up to 4096
    bytes of text (psycopg._queries.MAX_CACHED_STATEMENT_LENGTH); longer ones are converted
    again on every execution."""
    return "\n".join(line.strip() for line in sql.splitlines() if line.strip())


def _dialect() -> dict:
    return _DIALECTS[connection.vendor]


def local_day_sql(moment: str, zone: str) -> str:
    """SQL for the calendar day of the moment expression `moment` in the zone named by the
    expression `zone` (a column such as a user's time_zone, or a placeholder): the one
    spelling of a per-zone day, shared with the events app's measures."""
    return _dialect()["local_day"].format(moment, zone)


def _award_days_sql(user_id: int | Sequence[int] | None) -> tuple[str, list]:
    """SQL for the distinct (user_id, day) pairs, each day taken in that user's time zone, for
    every user, one, or some."""
    day = _dialect()["local_day"].format("w.awarded_at", "u.time_zone")
    ids = [user_id] if isinstance(user_id, int) else list(user_id or [])
    placeholders = ", ".join(["%s"] * len(ids))
    only_user = f"WHERE w.user_id IN ({placeholders})" if user_id is not None else ""
    sql = f"""
        SELECT DISTINCT w.user_id, {day} AS day
        FROM {Award._meta.db_table} w JOIN {User._meta.db_table} u ON u.id = w.user_id
        {only_user}
    """
    return sql, ids if user_id is not None else []


def _expected_figures_sql(
    user_id: int | Sequence[int] | None, before: str = "", before_params: Sequence = ()
) -> tuple[str, list]:
    """A CTE named `expected`: (id, username, achievements_count, points, longest_streak,
    streak_start, streak_end) for every user, or for one, computed from the awards alone;
    `before` (with `before_params`) puts more CTEs ahead of it in the same WITH."""
    days_sql, days_params = _award_days_sql(user_id)
    award = Award._meta.db_table
    achievement = Achievement._meta.db_table
    user = User._meta.db_table
    ids = [user_id] if isinstance(user_id, int) else list(user_id or [])
    placeholders = ", ".join(["%s"] * len(ids))
    only_user = f"WHERE w.user_id IN ({placeholders})" if user_id is not None else ""
    only_user_u = f"WHERE u.id IN ({placeholders})" if user_id is not None else ""
    sql = f"""
        WITH {before}
        days AS ({days_sql}),
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
    params = [*before_params, *days_params]
    if user_id is not None:
        params += [*ids, *ids]
    return sql, params


_FIGURES = ("achievements_count", "points", "longest_streak", "streak_start", "streak_end")


def _differs_condition(stored: str) -> str:
    differs = _dialect()["differs"]
    return " OR ".join(f"{stored}.{f} {differs} expected.{f}" for f in _FIGURES)


def figures_refresh(
    user_id: int | Sequence[int] | None = None, before: str = "", before_params: Sequence = ()
) -> None:
    """Rewrite the stored figures that differ from the awards, for one user, some (at most a
    few thousand ids per call) or all; `before` adds data-modifying CTEs (PostgreSQL) that
    run in the same statement."""
    if user_id is not None and not isinstance(user_id, int) and not user_id:
        return
    sql, params = _expected_figures_sql(user_id, before, before_params)
    with connection.cursor() as cursor:
        cursor.execute(_compact(sql + _figures_update_sql()), params)


def _figures_update_sql() -> str:
    """The UPDATE writing the `expected` CTE's figures where they differ from the stored."""
    table = User._meta.db_table
    assignments = ", ".join(f"{f} = expected.{f}" for f in _FIGURES)
    return f"""
        UPDATE {table} SET {assignments}
        FROM expected
        WHERE {table}.id = expected.id AND ({_differs_condition(table)})
    """


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


# Holder counts -------------------------------------------------------------------------------

_HOLDERS_PICK = {
    # Any row of the achievement's no other transaction holds: concurrent grants never wait.
    "postgresql": "SELECT id FROM {table} WHERE achievement_id = %s LIMIT 1 FOR UPDATE SKIP LOCKED",
    # SQLite runs one write transaction at a time.
    "sqlite": "SELECT id FROM {table} WHERE achievement_id = %s ORDER BY id LIMIT 1",
}


def _holders_ctes() -> str:
    """CTEs `holders_pick`, `holders_bumped` and `holders_added` adding a delta (parameters:
    achievement id, delta, achievement id, delta) to a free counter row, or to a new one."""
    table = HolderCount._meta.db_table
    pick = _HOLDERS_PICK["postgresql"].format(table=table)
    return f"""
        holders_pick AS ({pick}),
        holders_bumped AS (
            UPDATE {table} h SET holders = h.holders + %s FROM holders_pick p
            WHERE h.id = p.id RETURNING h.id
        ),
        holders_added AS (
            INSERT INTO {table} (achievement_id, holders)
            SELECT %s::bigint, %s::bigint WHERE NOT EXISTS (SELECT 1 FROM holders_pick)
            RETURNING id
        ),
    """


def holders_add(achievement_id: int, delta: int) -> None:
    """Count `delta` more (or fewer) holders of the achievement, in this transaction."""
    table = HolderCount._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH {_holders_ctes()} done AS (SELECT 1) SELECT 1",
                [achievement_id, delta, achievement_id, delta],
            )
            return
        pick = _HOLDERS_PICK[connection.vendor].format(table=table)
        cursor.execute(
            f"UPDATE {table} SET holders = holders + %s WHERE id = ({pick})",
            [delta, achievement_id],
        )
        if not cursor.rowcount:
            cursor.execute(
                f"INSERT INTO {table} (achievement_id, holders) VALUES (%s, %s)",
                [achievement_id, delta],
            )


def _progress_complete_sql(rows: int) -> str:
    """Put `rows` users' progress toward one achievement at its goal (rows made as needed);
    parameters: (user_id, achievement_id, steps, updated_at) per row."""
    table = Progress._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, FALSE)"] * rows)
    # Any grant gives back what a revocation took from the rule (rule_revoked).
    return f"""
        INSERT INTO {table} (user_id, achievement_id, steps, updated_at, rule_revoked)
        VALUES {values}
        ON CONFLICT (user_id, achievement_id) DO UPDATE SET
            steps = excluded.steps, updated_at = excluded.updated_at, rule_revoked = FALSE
    """


@lru_cache(maxsize=64)
def _grant_effects_sql(users: int, periods: bool, then_sql: str | None) -> str:
    """The text of grant_effects_apply's statement on PostgreSQL for `users` new awards: the
    same for every grant of that shape, so built once (about 70 microseconds a time)."""
    before = f"""
        {_holders_ctes()}
        progressed AS ({_progress_complete_sql(users)} RETURNING 1),
    """
    effects = ["holders_bumped", "holders_added", "progressed"]
    if periods:
        before += f"periods_added AS ({_period_figures_add_sql(users)} RETURNING 1),"
        effects.append("periods_added")
    # The ids only count here: the statement has one placeholder per id.
    sql, _params = _expected_figures_sql(list(range(users)), before)
    if then_sql is None:
        return _compact(sql + _figures_update_sql())
    # Every effect's rows counted in a condition that gates the last statement: written
    # before it runs, whatever order PostgreSQL gives the statement's parts.
    after_effects = " AND ".join(
        f"(SELECT COUNT(*) FROM {name}) >= 0" for name in [*effects, "figured"]
    )
    sql += f""",
        figured AS ({_figures_update_sql()} RETURNING 1)
        {then_sql.format(after_effects=after_effects)}
    """
    return _compact(sql)


def grant_effects_apply(
    achievement_id: int,
    goal: int,
    new: Mapping[int, int],
    now,
    *,
    periods: bool = True,
    then: tuple[str, Sequence] | None = None,
) -> None:
    """For awards of one achievement just inserted, `new` mapping each user id to their new
    award's id (at most a few thousand): their progress at the goal, the achievement's holder
    count, their figures and their period figures. One statement on PostgreSQL; the caller
    holds the users' rows. `then` (PostgreSQL: SQL and parameters) is a statement run as the
    same statement's last part, once every effect is written: its text reads
    `{after_effects}` where a WHERE condition belongs, true once they are all done.
    (`periods=False` leaves the period figures out, only for bench/periods_benchmark.py to
    measure what they cost.)"""
    if not new:
        return
    user_ids = sorted(new)
    award_ids = [new[uid] for uid in user_ids]
    at = connection.ops.adapt_datetimefield_value(now)
    progress_params = [v for uid in user_ids for v in (uid, achievement_id, goal, at)]
    if connection.vendor == "postgresql":
        then_sql, then_params = then or (None, [])
        sql = _grant_effects_sql(len(user_ids), periods, then_sql)
        params = [achievement_id, len(user_ids), achievement_id, len(user_ids), *progress_params]
        if periods:
            params += _periods_params(*award_ids)
        # The figures' CTEs read the users' ids three times (_expected_figures_sql).
        params += [*user_ids, *user_ids, *user_ids, *then_params]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute(_progress_complete_sql(len(user_ids)), progress_params)
    holders_add(achievement_id, len(user_ids))
    figures_refresh(user_ids)
    if periods:
        period_figures_add(award_ids)


def holders_by_achievement() -> dict[int, int]:
    """{achievement id: how many users hold it}, from the counters (achievements nobody
    holds may be missing)."""
    rows = HolderCount.objects.order_by().values("achievement_id").annotate(n=models.Sum("holders"))
    return {row["achievement_id"]: row["n"] for row in rows}


def _holders_expected_sql() -> str:
    return f"""
        SELECT achievement_id, COUNT(*) AS holders FROM {Award._meta.db_table}
        GROUP BY achievement_id
    """


@dataclass(frozen=True)
class HoldersMismatch:
    """An achievement whose counted holders differ from its awards."""

    code: str
    stored: int
    expected: int


def holders_mismatches() -> list[HoldersMismatch]:
    """Every achievement whose counters do not sum to its number of awards."""
    sql = f"""
        SELECT a.code, COALESCE(s.holders, 0), COALESCE(e.holders, 0)
        FROM {Achievement._meta.db_table} a
        LEFT JOIN (
            SELECT achievement_id, SUM(holders) AS holders FROM {HolderCount._meta.db_table}
            GROUP BY achievement_id
        ) s ON s.achievement_id = a.id
        LEFT JOIN ({_holders_expected_sql()}) e ON e.achievement_id = a.id
        WHERE COALESCE(s.holders, 0) <> COALESCE(e.holders, 0)
        ORDER BY a.code
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [
            HoldersMismatch(code, int(stored), int(expected)) for code, stored, expected in cursor
        ]


def holders_rebuild_all() -> None:
    """Replace every counter with one row per held achievement, counted from the awards."""
    table = HolderCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"INSERT INTO {table} (achievement_id, holders) "
            f"SELECT achievement_id, holders FROM ({_holders_expected_sql()}) e"
        )


# Period figures ------------------------------------------------------------------------------

# Every award counts towards one period of each kind.
_KINDS_SQL = " UNION ALL ".join(f"SELECT '{kind}' AS kind" for kind in PeriodFigure.Kind.values)


def _award_periods_sql(where: str) -> str:
    """SELECT (kind, start, user_id, points) for every period of every award matching `where`,
    the periods taken in TIME_ZONE. Its first parameter is TIME_ZONE (`_periods_params`)."""
    start = _dialect()["period_start"].format("w.awarded_at", "%s", "k.kind")
    return f"""
        SELECT k.kind, {start} AS start, w.user_id, a.points
        FROM {Award._meta.db_table} w
        JOIN {Achievement._meta.db_table} a ON a.id = w.achievement_id
        CROSS JOIN ({_KINDS_SQL}) k
        WHERE {where}
    """


def _periods_params(*params) -> list:
    return [settings.TIME_ZONE, *params]


def _period_figures_add_sql(awards: int) -> str:
    """Count `awards` new awards, of different users, in the figures of each period they fall
    in (rows made as needed); parameters: `_periods_params(*award_ids)`. Two awards of one
    user could meet in one period row, which one upsert cannot touch twice."""
    table = PeriodFigure._meta.db_table
    ids = ", ".join(["%s"] * awards)
    return f"""
        INSERT INTO {table} (kind, start, user_id, username, achievements_count, points)
        SELECT p.kind, p.start, p.user_id, u.username, 1, p.points
        FROM ({_award_periods_sql(f"w.id IN ({ids})")}) p
        JOIN {User._meta.db_table} u ON u.id = p.user_id
        WHERE 1 = 1
        ON CONFLICT (user_id, kind, start) DO UPDATE SET
            achievements_count = {table}.achievements_count + 1,
            points = {table}.points + excluded.points
    """


def period_figures_add(award_ids: int | Sequence[int]) -> None:
    """Count a new award, or new awards of different users, in the figures of each period
    they fall in (rows made as needed)."""
    award_ids = [award_ids] if isinstance(award_ids, int) else list(award_ids)
    if award_ids:
        with connection.cursor() as cursor:
            cursor.execute(_period_figures_add_sql(len(award_ids)), _periods_params(*award_ids))


def period_figures_remove(award_id: int, user_id: int) -> None:
    """Take an award, still in the table, out of the figures of each period it falls in;
    a period left with no award loses its row."""
    table = PeriodFigure._meta.db_table
    periods = f"""
        user_id = %s AND (kind, start) IN (
            SELECT p.kind, p.start FROM ({_award_periods_sql("w.id = %s")}) p
        )
    """
    params = [user_id, *_periods_params(award_id)]
    with connection.cursor() as cursor:
        # The last award of a period removes the row (a zero row would break the check).
        cursor.execute(f"DELETE FROM {table} WHERE achievements_count = 1 AND {periods}", params)
        cursor.execute(
            f"""
            UPDATE {table} SET
                achievements_count = achievements_count - 1,
                points = points - (
                    SELECT a.points FROM {Award._meta.db_table} w
                    JOIN {Achievement._meta.db_table} a ON a.id = w.achievement_id
                    WHERE w.id = %s
                )
            WHERE {periods}
            """,
            [award_id, *params],
        )


def period_figures_move_points(achievement_id: int, delta: int) -> int:
    """Move by `delta` the points of every period row that counts an award of the achievement;
    returns how many rows moved."""
    table = PeriodFigure._meta.db_table
    # A join from the achievement's awards (their index) to each period row (its unique
    # index): four row updates per holder, no scan of the period table.
    sql = f"""
        UPDATE {table} SET points = {table}.points + %s
        FROM ({_award_periods_sql("w.achievement_id = %s")}) p
        WHERE {table}.user_id = p.user_id AND {table}.kind = p.kind
            AND {table}.start = p.start
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [delta, *_periods_params(achievement_id)])
        return cursor.rowcount


def _expected_periods_sql() -> str:
    """A CTE named `expected_periods`: every (kind, start, user_id, username,
    achievements_count, points) the awards give. Its one parameter is TIME_ZONE.

    Each award's day is computed once (one zone conversion per award); weeks, months and years
    are then rolled up from the (user, day) totals."""
    day = _dialect()["local_day"].format("w.awarded_at", "%s")
    start = _dialect()["date_period_start"].format("d.day", "k.kind")
    return f"""
        WITH award_days AS (
            SELECT w.user_id, {day} AS day, COUNT(*) AS achievements_count,
                   SUM(a.points) AS points
            FROM {Award._meta.db_table} w
            JOIN {Achievement._meta.db_table} a ON a.id = w.achievement_id
            GROUP BY 1, 2
        ),
        expected_periods AS (
            SELECT k.kind, {start} AS start, d.user_id, u.username,
                   SUM(d.achievements_count) AS achievements_count, SUM(d.points) AS points
            FROM award_days d
            CROSS JOIN ({_KINDS_SQL}) k
            JOIN {User._meta.db_table} u ON u.id = d.user_id
            GROUP BY 1, 2, 3, 4
        )
    """


def period_figures_rebuild_all() -> None:
    """Replace every period row with the ones the awards give, set-based."""
    table = PeriodFigure._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"""
            INSERT INTO {table} (kind, start, user_id, username, achievements_count, points)
            {_expected_periods_sql()}
            SELECT kind, start, user_id, username, achievements_count, points
            FROM expected_periods
            """,
            _periods_params(),
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")


@dataclass(frozen=True)
class PeriodMismatch:
    """A period row that is missing, extra or differs from what the awards give."""

    username: str
    kind: str
    start: date
    stored: dict | None
    expected: dict | None


_PERIOD_FIGURES = ("username", "achievements_count", "points")


def period_figures_mismatches() -> list[PeriodMismatch]:
    """Every period row that differs from the awards (missing, extra or with other figures)."""
    table = PeriodFigure._meta.db_table
    differs = _dialect()["differs"]
    condition = " OR ".join(f"s.{f} {differs} e.{f}" for f in _PERIOD_FIGURES)
    sql = f"""
        {_expected_periods_sql()}
        SELECT COALESCE(e.username, s.username), COALESCE(e.kind, s.kind),
               COALESCE(e.start, s.start), s.user_id IS NOT NULL, e.user_id IS NOT NULL,
               s.username, s.achievements_count, s.points,
               e.username, e.achievements_count, e.points
        FROM {table} s
        FULL OUTER JOIN expected_periods e
            ON e.user_id = s.user_id AND e.kind = s.kind AND e.start = s.start
        WHERE s.user_id IS NULL OR e.user_id IS NULL OR {condition}
        ORDER BY 1, 2, 3
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, _periods_params())
        rows = cursor.fetchall()
    return [
        PeriodMismatch(
            username=row[0],
            kind=row[1],
            start=_normalize([row[2]])[0],
            stored=dict(zip(_PERIOD_FIGURES, row[5:8], strict=True)) if row[3] else None,
            expected=dict(zip(_PERIOD_FIGURES, row[8:11], strict=True)) if row[4] else None,
        )
        for row in rows
    ]
