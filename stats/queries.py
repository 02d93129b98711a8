"""Raw SQL for the one stat the ORM cannot express plainly: the smallest gap between
neighbours in (points, username) order. Dialect differences sit side by side."""

from django.db import connection

from users.models import User

# Code point order for the username tie rule (see core.collation.BinaryCollate).
_COLLATE = {"postgresql": 'COLLATE "C"', "sqlite": "COLLATE BINARY"}


def min_points_gap_row() -> tuple | None:
    """(lower username, count, points, upper username, count, points) of the first adjacent
    pair with the smallest difference, users ordered by (points, username); None under two
    users."""
    return _first_tie() or _first_smallest_gap()


def _first_tie() -> tuple | None:
    """The answer when two users share a points value: the gap is 0, and the first such pair
    is the two lowest usernames at the lowest shared value. Walking the (points, username)
    index stops at the first shared value instead of visiting every user."""
    table = User._meta.db_table
    collate = _COLLATE[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT points FROM {table} GROUP BY points HAVING COUNT(*) > 1 "
            "ORDER BY points LIMIT 1"
        )
        shared = cursor.fetchone()
        if shared is None:
            return None
        cursor.execute(
            f"SELECT username, achievements_count, points FROM {table} "
            f"WHERE points = %s ORDER BY username {collate} LIMIT 2",
            [shared[0]],
        )
        lower, upper = cursor.fetchall()
    return (*lower, *upper)


def _first_smallest_gap() -> tuple | None:
    """The general case, all points distinct: one window pass over every user."""
    table = User._meta.db_table
    order = f"points, username {_COLLATE[connection.vendor]}"
    sql = f"""
        SELECT username, achievements_count, points, next_username, next_count, next_points
        FROM (
            SELECT username, achievements_count, points,
                   LEAD(username) OVER w AS next_username,
                   LEAD(achievements_count) OVER w AS next_count,
                   LEAD(points) OVER w AS next_points,
                   ROW_NUMBER() OVER w AS position
            FROM {table}
            WINDOW w AS (ORDER BY {order})
        ) AS neighbours
        WHERE next_username IS NOT NULL
        ORDER BY next_points - points, position
        LIMIT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()
