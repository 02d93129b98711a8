"""The stats, read from the figures each user carries (kept exact by achievements.services).

Every function runs a fixed number of indexed queries, whatever the number of users or awards.
Ties are broken by username in code point order, the same on every database.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic

from django.db import connection
from django.db.models import BigIntegerField, Count, Max, OuterRef, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from modeltranslation.utils import build_localized_fieldname

from achievements.models import Achievement, Award, HolderCount, PeriodFigure
from achievements.queries import holders_by_achievement
from core.collation import BinaryCollate
from core.languages import language_codes
from stats.queries import min_points_gap_row
from users.models import User
from users.selectors import USER_COUNT_SQL, user_count

BRIEF_FIELDS = ("username", "achievements_count", "points")
LEADERBOARD_FIGURES = {"points": "points", "achievements": "achievements_count"}
PERIODS = ("all", *PeriodFigure.Kind.values)
DEFAULT_STREAK_DAYS = 7
MIN_STREAK_DAYS, MAX_STREAK_DAYS = 2, 3650


def _briefs(users: QuerySet[User]) -> list[dict]:
    return list(users.values(*BRIEF_FIELDS))


def _tied_at_top(figure: str, limit: int | None = None) -> tuple[int, list[dict], int]:
    """(top value, the first `limit` users tied at it by username, how many tie); nobody when
    the top is 0."""
    top = User.objects.aggregate(top=Max(figure))["top"] or 0
    if not top:
        return 0, [], 0
    tied = User.objects.filter(**{figure: top})
    ordered = tied.order_by(BinaryCollate("username"))
    users = _briefs(ordered[:limit] if limit else ordered)
    count = tied.count() if limit and len(users) == limit else len(users)
    return top, users, count


def _leaders(figure: str) -> dict:
    top, users, _count = _tied_at_top(figure)
    return {figure: top, "users": users}


def most_achievements() -> dict:
    """Every user tied at the highest achievement count (none when nobody has an award)."""
    return _leaders("achievements_count")


def most_points() -> dict:
    """Every user tied at the highest points (none when nobody has an award)."""
    return _leaders("points")


def max_points_gap() -> dict:
    """The top user by points and the bottom one (ties by username), and their difference.

    The bottom user is chosen among the others, so the pair is two users even when all tie.
    """
    top = _briefs(User.objects.order_by("-points", BinaryCollate("username"))[:1])
    if not top:
        return {"difference": None, "users": []}
    bottom = _briefs(
        User.objects.exclude(username=top[0]["username"]).order_by(
            "points", BinaryCollate("username")
        )[:1]
    )
    if not bottom:
        return {"difference": None, "users": []}
    return {"difference": top[0]["points"] - bottom[0]["points"], "users": [top[0], bottom[0]]}


def min_points_gap() -> dict:
    """Of neighbours in (points, username) order, the first pair with the smallest
    difference, lower first."""
    row = min_points_gap_row()
    if row is None:
        return {"difference": None, "users": []}
    lower = dict(zip(BRIEF_FIELDS, row[:3], strict=True))
    upper = dict(zip(BRIEF_FIELDS, row[3:], strict=True))
    return {"difference": upper["points"] - lower["points"], "users": [lower, upper]}


def streaks_at_least(days: int) -> QuerySet[User]:
    """Users with awards on each of `days` consecutive calendar days: their longest run (the
    latest of equals), longest first, then by username."""
    return (
        User.objects.filter(longest_streak__gte=days)
        .order_by("-longest_streak", BinaryCollate("username"))
        .values("username", "longest_streak", "streak_start", "streak_end")
    )


def period_start(period: str, day: date) -> date:
    """The first day of the day, week (from Monday), month or year that contains `day`."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


def leaderboard(by: str, period: str = "all", day: date | None = None) -> QuerySet:
    """The users on a board, highest first, then by username: every user for `all`; for
    another period, those with an award in the one containing `day`, with their figures over
    it (read from the period rows achievements.services keeps)."""
    figure = LEADERBOARD_FIGURES[by]
    if period == "all":
        board = User.objects.all()
    else:
        board = PeriodFigure.objects.filter(kind=period, start=period_start(period, day))
    return board.order_by(f"-{figure}", BinaryCollate("username")).values(*BRIEF_FIELDS)


def leaderboard_ranked(
    rows: list[dict], by: str, offset: int, board: QuerySet | None = None
) -> list[dict]:
    """Add standard competition ranks (1, 2, 2, 4) to the page of a board's rows (`board`,
    default the all-time `leaderboard(by)`) that starts at position `offset`."""
    if not rows:
        return rows
    figure = LEADERBOARD_FIGURES[by]
    board = leaderboard(by) if board is None else board
    # Only the first row needs the database (it may sit inside a tie that began on an earlier
    # page): its rank is one more than the number of users above it.
    rank = 1 + board.filter(**{f"{figure}__gt": rows[0][figure]}).count()
    return _ranked(rows, figure, offset, rank)


def _ranked(rows: list[dict], figure: str, offset: int, first_rank: int) -> list[dict]:
    """The rows, the first at position `offset` (0-based) with rank `first_rank`, with ranks."""
    ranked, rank = [], first_rank
    for position, row in enumerate(rows, start=offset + 1):
        if ranked and row[figure] != ranked[-1][figure]:
            rank = position
        ranked.append({**row, "rank": rank})
    return ranked


def _board_order_key(figure: str):
    # Board order in Python: figure descending, then username by code point (as "C" compares).
    return lambda row: (-row[figure], row["username"])


def _union_rows(first: QuerySet, second: QuerySet) -> list[dict]:
    """The rows of two limited, ordered querysets of the same board in one round trip (the ORM
    cannot put a LIMIT inside a UNION on SQLite)."""
    first_sql, first_params = first.query.sql_with_params()
    second_sql, second_params = second.query.sql_with_params()
    sql = f"SELECT * FROM ({first_sql}) AS a UNION ALL SELECT * FROM ({second_sql}) AS b"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*first_params, *second_params])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _collated(board: QuerySet) -> QuerySet:
    return board.alias(collated_username=BinaryCollate("username"))


def _rows_after(board: QuerySet, figure: str, value: int, name: str, limit: int) -> list[dict]:
    """The first `limit` rows after the key (value, name) in board order.

    Two index range reads (the rest of the key's tie, then the lower figures), so the cost
    does not depend on how deep the key lies."""
    collated = _collated(board)
    tie = collated.filter(**{figure: value, "collated_username__gt": name})[:limit]
    lower = board.filter(**{f"{figure}__lt": value})[:limit]
    return sorted(_union_rows(tie, lower), key=_board_order_key(figure))[:limit]


def _rows_before(board: QuerySet, figure: str, value: int, name: str, limit: int) -> list[dict]:
    """The last `limit` rows before the key (value, name) in board order, in board order."""
    if limit <= 0:
        return []
    collated = _collated(board)
    backwards = BinaryCollate("username").desc()
    tie = collated.filter(**{figure: value, "collated_username__lt": name}).order_by(backwards)[
        :limit
    ]
    higher = board.filter(**{f"{figure}__gt": value}).order_by(figure, backwards)[:limit]
    rows = sorted(_union_rows(tie, higher), key=_board_order_key(figure))
    return rows[-limit:]


@dataclass(frozen=True)
class BoardPlace:
    """Where a key (figure value, username) stands on a board: how many rows have a higher
    figure, how many share it with a smaller username, and the board's size."""

    above: int
    tied_before: int
    total: int

    @property
    def position(self) -> int:
        """How many rows come before the key."""
        return self.above + self.tied_before


def _board_total_sql(board: QuerySet) -> tuple[str, list]:
    """A scalar statement for how many rows `board` has: the user counter for the all-time
    board (no scan), a count of the period's rows otherwise."""
    if board.model is User:
        return USER_COUNT_SQL, []
    board_sql, board_params = board.order_by().values("pk").query.sql_with_params()
    return f"SELECT COUNT(*) FROM ({board_sql}) AS n", list(board_params)


# The figure of the middle row of each all-time board, as it stood up to a minute ago. It only
# chooses the end of the board a rank is counted from (either end gives the exact count), so a
# stale one costs time, never exactness; it is never served.
MIDDLE_HINT_SECONDS = 60.0
_middle_hints: dict[str, tuple[float, int | None]] = {}


def _middle_figure_sql(figure: str) -> str:
    """A scalar subquery: the `figure` of the all-time board's middle row (NULL without users)."""
    column = connection.ops.quote_name(figure)
    return (
        f"(SELECT {column} FROM {User._meta.db_table} ORDER BY {column} DESC "
        f"LIMIT 1 OFFSET ({USER_COUNT_SQL}) / 2)"
    )


def _board_place(board: QuerySet, figure: str, value: int, name: str) -> BoardPlace:
    """One statement reading only the board's figure index (index-only scans on PostgreSQL):
    the rows above the key's figure, the rows tied with the key before its username (an index
    range) and the board's size (the user counter for the all-time board; for a period board,
    counted in the same pass as the rows above)."""
    tie_sql, tie_params = (
        _collated(board)
        .filter(**{figure: value, "collated_username__lt": name})
        .order_by()
        .values(figure)
        .query.sql_with_params()
    )
    tied = f"(SELECT COUNT(*) FROM ({tie_sql}) AS t)"
    stale = False
    if board.model is User:
        hinted_at, middle = _middle_hints.get(figure, (None, None))
        stale = hinted_at is None or monotonic() - hinted_at > MIDDLE_HINT_SECONDS
        if middle is not None and value < middle:
            # The key lies in the lower half: count the fewer rows at or below its figure.
            side = board.filter(**{f"{figure}__lte": value}).order_by().values(figure)
            side_sql, side_params = side.query.sql_with_params()
            above = f"({USER_COUNT_SQL}) - (SELECT COUNT(*) FROM ({side_sql}) AS a)"
        else:
            side = board.filter(**{f"{figure}__gt": value}).order_by().values(figure)
            side_sql, side_params = side.query.sql_with_params()
            above = f"(SELECT COUNT(*) FROM ({side_sql}) AS a)"
        # A stale hint is refreshed in the same statement, once a minute (a walk of half the
        # board), so the statements a page runs stay fixed.
        refresh = f", {_middle_figure_sql(figure)}" if stale else ""
        sql = f"SELECT {above}, {tied}, ({USER_COUNT_SQL}){refresh}"
        params = [*side_params, *tie_params]
    else:
        board_sql, board_params = board.order_by().values(figure).query.sql_with_params()
        column = f"c.{connection.ops.quote_name(figure)}"
        above = (
            f"COUNT(*) FILTER (WHERE {column} > %s)"
            if connection.features.supports_aggregate_filter_clause
            else f"COALESCE(SUM(CASE WHEN {column} > %s THEN 1 ELSE 0 END), 0)"
        )
        sql = f"SELECT {above}, {tied}, COUNT(*) FROM ({board_sql}) AS c"
        params = [value, *tie_params, *board_params]
    above_count, tied_before, total, *refreshed = _first_row(sql, params)
    if stale:
        _middle_hints[figure] = (monotonic(), refreshed[0])
    return BoardPlace(above=above_count, tied_before=tied_before, total=int(total))


@dataclass(frozen=True)
class AroundSlice:
    """A slice of a board around one user: its rows with ranks, where it starts, the user's
    rank (None when the user is not on the board) and how many rows the board has."""

    rows: list[dict]
    offset: int
    rank: int | None
    count: int


def leaderboard_around(board: QuerySet, by: str, user: User, limit: int) -> AroundSlice:
    """The `limit` rows of `board` (a `leaderboard(...)`) with `user` in the middle, fewer
    where the board ends; four queries wherever the user stands."""
    figure = LEADERBOARD_FIGURES[by]
    key = "pk" if board.model is User else "user_id"
    mine = board.filter(**{key: user.pk}).first()
    if mine is None:
        return AroundSlice(rows=[], offset=0, rank=None, count=0)
    value, name = mine[figure], mine["username"]
    # Centred: as many rows above as below (one more below for an even limit), so near the
    # top or the bottom of the board the slice is shorter rather than shifted.
    before = (limit - 1) // 2
    earlier = _rows_before(board, figure, value, name, before)
    rows = [*earlier, mine, *_rows_after(board, figure, value, name, limit - 1 - before)]
    first = rows[0]
    place = _board_place(board, figure, first[figure], first["username"])
    ranked = _ranked(rows, figure, place.position, place.above + 1)
    return AroundSlice(
        rows=ranked, offset=place.position, rank=ranked[len(earlier)]["rank"], count=place.total
    )


@dataclass(frozen=True)
class KeysetPage:
    """The rows after a cursor with their ranks, where they start, the board's size, and
    whether more rows follow."""

    rows: list[dict]
    offset: int
    count: int
    more: bool


def leaderboard_after(board: QuerySet, by: str, value: int, name: str, limit: int) -> KeysetPage:
    """The `limit` rows of `board` (a `leaderboard(...)`) that follow the key (figure `value`,
    `name`) in board order, ranked: two queries at any depth. The key need not be a row of the
    board (it may have moved or left since the cursor was made): the page is what follows that
    place in the ranking as it stands now."""
    figure = LEADERBOARD_FIGURES[by]
    rows = _rows_after(board, figure, value, name, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    first = rows[0] if rows else {figure: value, "username": name}
    place = _board_place(board, figure, first[figure], first["username"])
    return KeysetPage(
        rows=_ranked(rows, figure, place.position, place.above + 1),
        offset=place.position,
        count=place.total,
        more=more,
    )


def _without(row: dict, name: str) -> dict:
    del row[name]
    return row


def _board_rows(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _first_row(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _key_at(board: QuerySet, figure: str, offset: int) -> tuple[int, tuple[int, str] | None]:
    """(the board's size, the (figure, username) of its row at `offset`, None past the end),
    found in the board's figure index alone, without reading the rows before it."""
    if board.model is User:
        # The all-time board's size is cheap (the user counter), so walk from the nearer end.
        total = user_count()
        if offset >= total:
            return total, None
        if offset > total // 2:
            backwards = board.order_by(figure, BinaryCollate("username").desc())
            position = total - 1 - offset
            key = backwards.values(figure, "username")[position : position + 1]
        else:
            key = board.values(figure, "username")[offset : offset + 1]
        row = _first_row(*key.query.sql_with_params())
        return total, row
    total_sql, total_params = _board_total_sql(board)
    key_sql, key_params = board.values(figure, "username")[
        offset : offset + 1
    ].query.sql_with_params()
    # A LEFT JOIN to one row, so the size comes back past the end too.
    row = _first_row(
        f"SELECT ({total_sql}), k.* FROM (SELECT 1) AS one LEFT JOIN ({key_sql}) AS k ON 1 = 1",
        [*total_params, *key_params],
    )
    return int(row[0]), None if row[2] is None else (row[1], row[2])


def leaderboard_page(board: QuerySet, by: str, offset: int, limit: int) -> tuple[int, list[dict]]:
    """(how many rows `board` (a `leaderboard(...)`) has, its `limit` rows from position
    `offset`, ranked): one statement for the first page, two or three at any depth. The rows
    before `offset` are only walked in the board's index (from its nearer end on the all-time
    board), never read."""
    figure = LEADERBOARD_FIGURES[by]
    total_sql, total_params = _board_total_sql(board)
    # A LEFT JOIN to one row, so the size comes back with no rows too.
    if offset == 0:
        page_sql, page_params = board[:limit].query.sql_with_params()
        found = _board_rows(
            f"SELECT ({total_sql}) AS board_total, p.* "
            f"FROM (SELECT 1) AS one LEFT JOIN ({page_sql}) AS p ON 1 = 1",
            [*total_params, *page_params],
        )
        total = int(found[0]["board_total"])
        rows = [_without(row, "board_total") for row in found if row["username"] is not None]
        return total, _ranked(sorted(rows, key=_board_order_key(figure)), figure, 0, 1)
    total, key = _key_at(board, figure, offset)
    if key is None:
        return total, []
    value, name = key
    # From the key on: the rest of its tie, then the lower figures (two index ranges), and how
    # many rows tie with the key before it, which sets its rank (they all lie before `offset`).
    collated = _collated(board)
    tie = collated.filter(**{figure: value, "collated_username__gte": name})[:limit]
    lower = board.filter(**{f"{figure}__lt": value})[:limit]
    before = collated.filter(**{figure: value, "collated_username__lt": name}).order_by()
    tie_sql, tie_params = tie.query.sql_with_params()
    lower_sql, lower_params = lower.query.sql_with_params()
    before_sql, before_params = before.values(figure).query.sql_with_params()
    found = _board_rows(
        f"SELECT u.*, (SELECT COUNT(*) FROM ({before_sql}) AS t) AS tied_before FROM "
        f"(SELECT * FROM ({tie_sql}) AS a UNION ALL SELECT * FROM ({lower_sql}) AS b) AS u",
        [*before_params, *tie_params, *lower_params],
    )
    if not found:  # the key's row left the board since the first statement
        return int(total), []
    tied_before = found[0]["tied_before"]
    rows = sorted((_without(row, "tied_before") for row in found), key=_board_order_key(figure))
    return int(total), _ranked(rows[:limit], figure, offset, offset + 1 - tied_before)


def holders_percent(holders: int, users: int) -> float:
    """Share of all users holding an achievement, in percent to two decimals (0 without users)."""
    return round(100 * holders / users, 2) if users else 0


def leaders_top(by: str, limit: int) -> dict:
    """The top figure by `by`, the first `limit` users tied at it and how many tie (none at 0)."""
    top, users, count = _tied_at_top(LEADERBOARD_FIGURES[by], limit)
    return {"value": top, "users": users, "count": count}


def user_rank(user: User, by: str = "points") -> int:
    """The user's standard competition rank (1, 2, 2, 4) by points or by achievement count."""
    figure = LEADERBOARD_FIGURES[by]
    return 1 + User.objects.filter(**{f"{figure}__gt": getattr(user, figure)}).count()


def achievement_catalog(order: str = "rarest") -> list[Achievement]:
    """Every entry with its `holders`: rarest first, or most points first, then by code."""
    # From the holder counters every grant and revocation keeps in its transaction (a few rows
    # per achievement), not from the awards: exact at every moment, whatever their number.
    holders = holders_by_achievement()
    catalog = list(Achievement.objects.all())
    for achievement in catalog:
        achievement.holders = holders.get(achievement.pk, 0)
    if order == "points":
        return sorted(catalog, key=lambda a: (-a.points, a.code))
    return sorted(catalog, key=lambda a: (a.holders, a.code))


RARITY_COLUMNS = ("code", "points", "goal", "hidden", "rule_event", "rule_measure", "created_at")


def achievement_rarity() -> list[dict]:
    """Every catalog entry's columns (each language's texts, the rule's two) with `holders`
    and `users` (how many users there are), rarest first, then by code: one statement, so the
    counts are of one snapshot, and no model instances."""
    # The holder counters every grant and revocation keeps in its transaction (a few rows per
    # achievement), and the user counter the users table's triggers keep: no scan of either.
    holders = (
        HolderCount.objects.filter(achievement=OuterRef("pk"))
        .order_by()
        .values("achievement")
        .annotate(sum=Sum("holders"))
        .values("sum")
    )
    # A plain QuerySet: it reads the columns named here, without modeltranslation's per-row
    # rewriting of translated field names, which cost more than the query.
    catalog = list(
        QuerySet(Achievement)
        .annotate(
            holders=Coalesce(Subquery(holders), 0, output_field=BigIntegerField()),
            users=RawSQL(USER_COUNT_SQL, [], output_field=BigIntegerField()),
        )
        .values(
            *RARITY_COLUMNS,
            *(
                build_localized_fieldname(field, code)
                for field in ("name", "description")
                for code in language_codes()
            ),
            "holders",
            "users",
        )
    )
    return sorted(catalog, key=lambda row: (row["holders"], row["code"]))


def awards_per_day(days: int = 30) -> list[tuple[date, int]]:
    """Awards granted on each of the last `days` calendar days (the service's time zone, today
    included), oldest first, days without awards as 0: one grouped query."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    counts = dict(
        Award.objects.filter(awarded_at__gte=start)
        .annotate(day=TruncDate("awarded_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("day")
        .annotate(awards=Count("*"))
        .values_list("day", "awards")
    )
    return [(day, counts.get(day, 0)) for day in (first + timedelta(days=n) for n in range(days))]
