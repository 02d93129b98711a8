"""A brute-force oracle for the stats, in plain Python over raw award rows.

It knows nothing of the stored figures, the stats app or its SQL: it is given the usernames,
the catalog and the awards, and answers every stats question by the SPEC's definitions, the
slow and obvious way. Usernames compare by code point, which is how Python compares strings.

`database_oracle()` builds one from the raw award rows the database holds now (never from the
stored figures it is there to judge).

A user's streak days are taken in that user's zone (`user_zones`, default `zone`); period boards
take days in `zone`, the service's.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise

from django.utils import timezone

from achievements.models import Achievement, Award
from users.models import User

PAGE = 50  # the API's default page size, used by the summary's first page of streaks


@dataclass(frozen=True)
class AwardRow:
    """One award as the database holds it, with the achievement's current points."""

    username: str
    code: str
    awarded_at: datetime
    points: int


class Oracle:
    """Every stats answer for one state of the data: `usernames` (all users, with or without
    awards), `catalog` (code -> points, every achievement) and `awards`; days in `zone`."""

    def __init__(
        self,
        usernames: Iterable[str],
        catalog: dict[str, int],
        awards: Iterable[AwardRow],
        zone: tzinfo,
        user_zones: dict[str, tzinfo] | None = None,
    ):
        self.usernames = sorted(usernames)
        self.user_zones = dict(user_zones or {})
        self.catalog = dict(catalog)
        self.awards = list(awards)
        self.zone = zone
        held = [(a.username, a.code) for a in self.awards]
        assert len(held) == len(set(held)), "a user holds an achievement at most once"
        assert {a.username for a in self.awards} <= set(self.usernames)

    # Per-user figures ------------------------------------------------------------------------

    def brief(self, username: str) -> dict:
        mine = [a for a in self.awards if a.username == username]
        return {
            "username": username,
            "achievements_count": len(mine),
            "points": sum(a.points for a in mine),
        }

    def briefs(self) -> list[dict]:
        return [self.brief(u) for u in self.usernames]

    def days(self, username: str) -> set[date]:
        """The calendar days, in the user's zone, on which the user received an award."""
        zone = self.user_zones.get(username, self.zone)
        return {a.awarded_at.astimezone(zone).date() for a in self.awards if a.username == username}

    def longest_run(self, username: str) -> tuple[int, date | None, date | None]:
        """(length, first day, last day) of the longest run of consecutive award days; of
        equally long runs the latest; (0, None, None) without awards."""
        days = self.days(username)
        best = (0, None, None)
        for first in days:
            if first - timedelta(days=1) in days:
                continue  # not the first day of its run
            last = first
            while last + timedelta(days=1) in days:
                last += timedelta(days=1)
            length = (last - first).days + 1
            if best[0] == 0 or (length, last) > (best[0], best[2]):
                best = (length, first, last)
        return best

    # The questions ---------------------------------------------------------------------------

    def _most(self, figure: str) -> dict:
        briefs = self.briefs()
        top = max((b[figure] for b in briefs), default=0)
        leaders = [b for b in briefs if b[figure] == top] if top else []
        return {figure: top, "users": sorted(leaders, key=lambda b: b["username"])}

    def most_achievements(self) -> dict:
        return self._most("achievements_count")

    def most_points(self) -> dict:
        return self._most("points")

    def max_points_gap(self) -> dict:
        briefs = self.briefs()
        if len(briefs) < 2:
            return {"difference": None, "users": []}
        highest = min(briefs, key=lambda b: (-b["points"], b["username"]))
        others = [b for b in briefs if b["username"] != highest["username"]]
        lowest = min(others, key=lambda b: (b["points"], b["username"]))
        return {"difference": highest["points"] - lowest["points"], "users": [highest, lowest]}

    def min_points_gap(self) -> dict:
        ordered = sorted(self.briefs(), key=lambda b: (b["points"], b["username"]))
        best = None
        for lower, upper in pairwise(ordered):
            difference = upper["points"] - lower["points"]
            if best is None or difference < best["difference"]:
                best = {"difference": difference, "users": [lower, upper]}
        return best or {"difference": None, "users": []}

    def streaks(self, days: int) -> list[dict]:
        rows = []
        for username in self.usernames:
            length, first, last = self.longest_run(username)
            if length >= days:
                rows.append(
                    {
                        "username": username,
                        "longest_streak": length,
                        "streak_start": first.isoformat(),
                        "streak_end": last.isoformat(),
                    }
                )
        return sorted(rows, key=lambda r: (-r["longest_streak"], r["username"]))

    def leaderboard(self, by: str) -> list[dict]:
        figure = {"points": "points", "achievements": "achievements_count"}[by]
        briefs = self.briefs()
        rows = [
            # Standard competition ranking: one more than the number of users strictly above.
            {**b, "rank": 1 + sum(other[figure] > b[figure] for other in briefs)}
            for b in briefs
        ]
        return sorted(rows, key=lambda r: (-r[figure], r["username"]))

    def in_period(self, awarded_at: datetime, period: str, day: date) -> bool:
        """Whether a moment falls in the day, ISO week, month or year (service zone) of `day`."""
        local = awarded_at.astimezone(self.zone).date()
        if period == "all":
            return True
        if period == "day":
            return local == day
        if period == "week":
            return local.isocalendar()[:2] == day.isocalendar()[:2]
        if period == "month":
            return (local.year, local.month) == (day.year, day.month)
        assert period == "year"
        return local.year == day.year

    def period_board(self, by: str, period: str, day: date) -> list[dict]:
        """The leaderboard over the period containing `day`: only users with an award in it,
        their figures counting those awards alone; `all` is the usual board."""
        if period == "all":
            return self.leaderboard(by)
        figure = {"points": "points", "achievements": "achievements_count"}[by]
        briefs = {}
        for a in self.awards:
            if self.in_period(a.awarded_at, period, day):
                brief = briefs.setdefault(
                    a.username, {"username": a.username, "achievements_count": 0, "points": 0}
                )
                brief["achievements_count"] += 1
                brief["points"] += a.points
        rows = [
            {**b, "rank": 1 + sum(o[figure] > b[figure] for o in briefs.values())}
            for b in briefs.values()
        ]
        return sorted(rows, key=lambda r: (-r[figure], r["username"]))

    def around(
        self, by: str, period: str, day: date, username: str, limit: int
    ) -> tuple[list[dict], int | None]:
        """(the `limit` rows of a board with the user in the middle, fewer where the board
        ends; the user's rank)."""
        board = self.period_board(by, period, day)
        names = [row["username"] for row in board]
        if username not in names:
            return [], None
        at = names.index(username)
        before = (limit - 1) // 2
        after = limit - 1 - before
        return board[max(0, at - before) : at + after + 1], board[at]["rank"]

    def achievements(self) -> list[dict]:
        holders = defaultdict(int)
        for award in self.awards:
            holders[award.code] += 1
        users = len(self.usernames)
        rows = [
            {
                "code": code,
                "points": points,
                "holders": holders[code],
                "holders_percent": round(100 * holders[code] / users, 2) if users else 0,
            }
            for code, points in self.catalog.items()
        ]
        return sorted(rows, key=lambda r: (r["holders"], r["code"]))

    def summary(self, days: int = 7) -> dict:
        """`stats/` without the URLs of the streak page (the caller checks those)."""
        streaks = self.streaks(days)
        return {
            "most_achievements": self.most_achievements(),
            "most_points": self.most_points(),
            "max_points_gap": self.max_points_gap(),
            "min_points_gap": self.min_points_gap(),
            "streaks": {"days": days, "count": len(streaks), "results": streaks[:PAGE]},
        }


def database_oracle() -> Oracle:
    """The oracle for what the database holds now: raw award rows, no stored figures; days in
    the service's zone."""
    awards = [
        AwardRow(username, code, awarded_at, points)
        for username, code, awarded_at, points in Award.objects.values_list(
            "user__username", "achievement__code", "awarded_at", "achievement__points"
        )
    ]
    return Oracle(
        usernames=User.objects.values_list("username", flat=True),
        catalog=dict(Achievement.objects.values_list("code", "points")),
        awards=awards,
        zone=timezone.get_default_timezone(),
    )
