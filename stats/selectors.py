"""The stats, read from the figures each user carries (kept exact by achievements.services).

Every function runs a fixed number of indexed queries, whatever the number of users or awards.
Ties are broken by username in code point order, the same on every database.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from achievements.models import Achievement, Award, PeriodFigure
from achievements.queries import holders_by_achievement
from core.collation import BinaryCollate
from stats.queries import min_points_gap_row
from users.models import User

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
    ranked = []
    for position, row in enumerate(rows, start=offset + 1):
        if ranked and row[figure] != ranked[-1][figure]:
            rank = position
        ranked.append({**row, "rank": rank})
    return ranked


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
    collated = board.alias(collated_username=BinaryCollate("username"))
    ahead = Q(**{f"{figure}__gt": value}) | Q(**{figure: value, "collated_username__lt": name})
    behind = Q(**{f"{figure}__lt": value}) | Q(**{figure: value, "collated_username__gte": name})
    # Centred: as many rows above as below (one more below for an even limit), so near the
    # top or the bottom of the board the slice is shorter rather than shifted.
    before = (limit - 1) // 2
    after = limit - 1 - before
    earlier = list(
        collated.filter(ahead).order_by(figure, BinaryCollate("username").desc())[:before]
    )[::-1]
    later = list(collated.filter(behind)[: after + 1])
    rows = earlier + later
    # One pass for the slice's place, the rank of its first row and the board's size,
    # counting only columns of the board's index so it can be an index-only scan.
    counts = collated.order_by().aggregate(
        position=Count(figure, filter=ahead),
        above_first=Count(figure, filter=Q(**{f"{figure}__gt": rows[0][figure]})),
        total=Count(figure),
    )
    offset = counts["position"] - len(earlier)
    ranked, rank = [], 1 + counts["above_first"]
    for position, row in enumerate(rows, start=offset + 1):
        if ranked and row[figure] != ranked[-1][figure]:
            rank = position
        ranked.append({**row, "rank": rank})
    return AroundSlice(
        rows=ranked, offset=offset, rank=ranked[len(earlier)]["rank"], count=counts["total"]
    )


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
