"""Raw SQL for the one stat the ORM cannot express plainly: the smallest gap between
neighbours in (points, username) order. Dialect differences sit side by side."""

from django.db import connection

from users.models import User

# Code point order for the username tie rule (see users.collation.BinaryCollate).
_COLLATE = {"postgresql": 'COLLATE "C"', "sqlite": "COLLATE BINARY"}


def min_points_gap_row() -> tuple | None:
    """(lower username, count, points, upper username, count, points) of the first adjacent
    pair with the smallest difference, users ordered by (points, username); None under two
    users."""
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
