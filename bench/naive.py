"""The naive baseline: the set-based SQL a straightforward implementation would run, aggregating
over all awards on every call instead of reading figures kept on each user.

PostgreSQL only. Every function takes its parameters as arguments, passes values as query
parameters (only table and column names from a fixed list are formatted into the text) and
returns the same JSON shape as the matching endpoint, so the benchmark can compare answers.
"""

from django.db import connection

from achievements.models import Achievement, Award
from users.models import User

AWARD = Award._meta.db_table
ACHIEVEMENT = Achievement._meta.db_table
USER = User._meta.db_table
FIGURES = {"points": "points", "achievements": "achievements_count"}

# Every user's count and points, aggregated from the awards (users without awards get zeros).
TOTALS = f"""
    totals AS (
        SELECT u.id, u.username,
               COUNT(w.id) AS achievements_count,
               COALESCE(SUM(a.points), 0) AS points
        FROM {USER} u
        LEFT JOIN {AWARD} w ON w.user_id = u.id
        LEFT JOIN {ACHIEVEMENT} a ON a.id = w.achievement_id
        GROUP BY u.id, u.username
    )
"""


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _brief(row: tuple) -> dict:
    username, achievements_count, points = row[:3]
    return {"username": username, "achievements_count": achievements_count, "points": points}


def _leaders(figure: str) -> dict:
    column = FIGURES[figure]
    rows = _rows(
        f"""
        WITH {TOTALS}
        SELECT username, achievements_count, points, (SELECT MAX({column}) FROM totals)
        FROM totals
        WHERE {column} = (SELECT MAX({column}) FROM totals) AND {column} > 0
        ORDER BY username COLLATE "C"
        """
    )
    top = rows[0][3] if rows else 0
    return {column: top, "users": [_brief(r) for r in rows]}


def most_achievements() -> dict:
    return _leaders("achievements")


def most_points() -> dict:
    return _leaders("points")


def max_points_gap() -> dict:
    rows = _rows(
        f"""
        WITH {TOTALS},
        top AS (SELECT * FROM totals ORDER BY points DESC, username COLLATE "C" LIMIT 1),
        bottom AS (
            SELECT * FROM totals WHERE id <> (SELECT id FROM top)
            ORDER BY points, username COLLATE "C" LIMIT 1
        )
        SELECT top.username, top.achievements_count, top.points,
               bottom.username, bottom.achievements_count, bottom.points
        FROM top, bottom
        """
    )
    if not rows:
        return {"difference": None, "users": []}
    high, low = _brief(rows[0][:3]), _brief(rows[0][3:])
    return {"difference": high["points"] - low["points"], "users": [high, low]}


def min_points_gap() -> dict:
    rows = _rows(
        f"""
        WITH {TOTALS},
        neighbours AS (
            SELECT username, achievements_count, points,
                   LEAD(username) OVER w AS next_username,
                   LEAD(achievements_count) OVER w AS next_count,
                   LEAD(points) OVER w AS next_points,
                   ROW_NUMBER() OVER w AS position
            FROM totals
            WINDOW w AS (ORDER BY points, username COLLATE "C")
        )
        SELECT username, achievements_count, points, next_username, next_count, next_points
        FROM neighbours WHERE next_username IS NOT NULL
        ORDER BY next_points - points, position
        LIMIT 1
        """
    )
    if not rows:
        return {"difference": None, "users": []}
    low, high = _brief(rows[0][:3]), _brief(rows[0][3:])
    return {"difference": high["points"] - low["points"], "users": [low, high]}


def streaks(days: int, time_zone: str, limit: int = 50, offset: int = 0) -> dict:
    """A gaps-and-islands pass over every award: each user's longest run of calendar days in
    `time_zone` (the latest of equals), those of at least `days`, one page of them."""
    rows = _rows(
        f"""
        WITH award_days AS (
            SELECT DISTINCT user_id, (awarded_at AT TIME ZONE %s)::date AS day FROM {AWARD}
        ),
        islands AS (
            SELECT user_id, day,
                   day - CAST(ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY day) AS integer)
                       AS island
            FROM award_days
        ),
        runs AS (
            SELECT user_id, COUNT(*) AS length, MIN(day) AS first_day, MAX(day) AS last_day,
                   ROW_NUMBER() OVER (
                       PARTITION BY user_id ORDER BY COUNT(*) DESC, MAX(day) DESC
                   ) AS pick
            FROM islands GROUP BY user_id, island
        )
        SELECT u.username, r.length, r.first_day, r.last_day, COUNT(*) OVER () AS total
        FROM runs r JOIN {USER} u ON u.id = r.user_id
        WHERE r.pick = 1 AND r.length >= %s
        ORDER BY r.length DESC, u.username COLLATE "C"
        LIMIT %s OFFSET %s
        """,
        [time_zone, days, limit, offset],
    )
    return {
        "count": rows[0][4] if rows else 0,
        "results": [
            {
                "username": username,
                "longest_streak": length,
                "streak_start": first.isoformat(),
                "streak_end": last.isoformat(),
            }
            for username, length, first, last, _total in rows
        ],
    }


def leaderboard(by: str, limit: int = 50, offset: int = 0) -> dict:
    """Every user's totals aggregated from the awards, ranked (1, 2, 2, 4), one page."""
    column = FIGURES[by]
    rows = _rows(
        f"""
        WITH {TOTALS}
        SELECT username, achievements_count, points,
               RANK() OVER (ORDER BY {column} DESC) AS rank,
               COUNT(*) OVER () AS total
        FROM totals
        ORDER BY {column} DESC, username COLLATE "C"
        LIMIT %s OFFSET %s
        """,
        [limit, offset],
    )
    return {
        "count": rows[0][4] if rows else 0,
        "results": [{**_brief(r), "rank": r[3]} for r in rows],
    }


def achievements(limit: int = 50, offset: int = 0) -> dict:
    """Each catalog entry's holders counted from the awards, rarest first, one page."""
    rows = _rows(
        f"""
        SELECT a.code, a.points, COUNT(w.id) AS holders,
               (SELECT COUNT(*) FROM {USER}) AS users,
               COUNT(*) OVER () AS total
        FROM {ACHIEVEMENT} a LEFT JOIN {AWARD} w ON w.achievement_id = a.id
        GROUP BY a.id, a.code, a.points
        ORDER BY holders, a.code
        LIMIT %s OFFSET %s
        """,
        [limit, offset],
    )
    return {
        "count": rows[0][4] if rows else 0,
        "results": [
            {
                "code": code,
                "points": points,
                "holders": holders,
                "holders_percent": round(100 * holders / users, 2) if users else 0,
            }
            for code, points, holders, users, _total in rows
        ],
    }


def summary(days: int, time_zone: str) -> dict:
    """The four user stats and the first page of streaks, each aggregated afresh."""
    return {
        "most_achievements": most_achievements(),
        "most_points": most_points(),
        "max_points_gap": max_points_gap(),
        "min_points_gap": min_points_gap(),
        "streaks": {"days": days, **streaks(days, time_zone)},
    }
