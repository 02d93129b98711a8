"""The public pages: home, leaderboard, streaks, user search and profiles, the catalog.

Read-only and server-rendered; each page runs a fixed number of indexed queries, whatever the
number of users or awards. A page has one language for its interface and its achievement texts:
`?lang=`, then the language cookie set by the switcher, then `Accept-Language`, then English.
The one exception is a user's own achievements, always shown in that user's language.
Hidden achievements show their locked texts to visitors without credentials
(achievements.hidden), except on the page of a user who holds them.
"""

import re
from contextlib import suppress
from datetime import date, timedelta
from functools import wraps

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from achievements.hidden import achievement_texts, request_has_credentials
from achievements.models import Achievement
from achievements.selectors import (
    achievement_get,
    award_list_for_achievement,
    award_list_for_user,
    award_list_recent,
    award_points_timeline,
    progress_list_in_progress,
)
from core.languages import request_language
from pages import charts
from stats import selectors as stats
from users.models import USERNAME_MAX_LENGTH, User
from users.selectors import user_count, user_get, user_search

PAGE_SIZE = 50
# Lists on the home page show this many rows and link to the full, paginated list.
HOME_ROWS = 10
# Tied leaders named on the home page; the rest are counted.
HOME_LEADERS = 5
STREAK_DAYS = stats.DEFAULT_STREAK_DAYS
CATALOG_ORDERS = ("rarest", "points")
# The home page's chart of awards per day covers this many days, today included.
CHART_DAYS = 30


def page_view(view):
    """A public page: GET or HEAD only, rendered in the language the request asks for."""

    @require_safe
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # The API's chooser; an unknown ?lang= is ignored, as a page has no 400 to show.
        language = request_language(request, strict=False)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return view(request, *args, **kwargs)

    return wrapper


def _query_without(request: HttpRequest, *names: str, **values) -> str:
    """The current query string less `names`, with `values` set: for links that keep filters."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    for name, value in values.items():
        query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else ""


def _paginate(request: HttpRequest, items: QuerySet | list, per_page: int = PAGE_SIZE) -> Page:
    """The requested `?page=` of `items` (the last one when past the end, the first when not a
    number), with `previous_url` and `next_url` that keep the other query parameters."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    page.previous_url = (
        _query_without(request, "page", page=page.previous_page_number())
        if page.has_previous()
        else None
    )
    page.next_url = (
        _query_without(request, "page", page=page.next_page_number()) if page.has_next() else None
    )
    return page


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    # The language switcher returns here; ?lang= would override the choice, so it is dropped.
    context["switch_next"] = request.path + _query_without(request, "lang")
    return render(request, template, context, status=status)


def _not_found(request: HttpRequest, **context) -> HttpResponse:
    """The site's 404 page, saying what was missing (it is also Django's handler404 page)."""
    return _render(request, "404.html", context, status=404)


def _achievement_row(achievement: Achievement, users: int, *, credentials: bool) -> dict:
    percent = stats.holders_percent(achievement.holders, users)
    name, description = achievement_texts(achievement, credentials=credentials)
    return {
        "code": achievement.code,
        "name": name,
        "description": description,
        "hidden": achievement.hidden,
        "points": achievement.points,
        "holders": achievement.holders,
        # 25 rather than 25.0: the template prints it with the locale's decimal separator.
        "percent": int(percent) if percent == int(percent) else percent,
    }


def _gap_card(gap: dict) -> dict:
    """A gap's pair in leaderboard order (more points first, then by username), so that both
    cards read the same way: the higher user, then the lower one."""
    users = sorted(gap["users"], key=lambda member: (-member["points"], member["username"]))
    return {**gap, "users": users}


def _ongoing_from() -> date:
    """The earliest last day of a streak that is still running: one that ended yesterday can
    still go on today (days are the service's calendar days, as the streaks are counted)."""
    return timezone.localdate() - timedelta(days=1)


def _leaders(by: str) -> dict:
    leaders = stats.leaders_top(by, HOME_LEADERS)
    return {**leaders, "more": leaders["count"] - len(leaders["users"])}


def _recent_awards(request: HttpRequest) -> list:
    credentials = request_has_credentials(request)
    awards = list(award_list_recent()[:HOME_ROWS])
    for award in awards:
        award.shown_name, _description = achievement_texts(
            award.achievement, credentials=credentials
        )
    return awards


@page_view
def home(request: HttpRequest) -> HttpResponse:
    """The five stats at a glance, the top of the leaderboard, the latest awards, a search."""
    streaks = stats.streaks_at_least(STREAK_DAYS)
    streakers = list(streaks[: HOME_ROWS + 1])
    top = list(stats.leaderboard("points")[:HOME_ROWS])
    context = {
        "nav": "home",
        "most_achievements": _leaders("achievements"),
        "most_points": _leaders("points"),
        "max_gap": _gap_card(stats.max_points_gap()),
        "min_gap": _gap_card(stats.min_points_gap()),
        "streak_days": STREAK_DAYS,
        "ongoing_from": _ongoing_from(),
        "streakers": streakers[:HOME_ROWS],
        "streakers_count": streaks.count() if len(streakers) > HOME_ROWS else len(streakers),
        "leaders": stats.leaderboard_ranked(top, "points", 0),
        "recent_awards": _recent_awards(request),
        "awards_chart": charts.bars(stats.awards_per_day(CHART_DAYS)),
    }
    return _render(request, "pages/home.html", context)


# The period tabs, in the order shown; "all" is all time.
PERIOD_TABS = (
    ("day", _("Today")),
    ("week", _("This week")),
    ("month", _("This month")),
    ("year", _("This year")),
    ("all", _("All time")),
)
PERIOD_ENDS = {
    "day": lambda start: start,
    "week": lambda start: start + timedelta(days=6),
    "month": lambda start: (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    - timedelta(days=1),
    "year": lambda start: start.replace(month=12, day=31),
}


def _day_param(request: HttpRequest) -> date:
    """`?date=` as YYYY-MM-DD, or today in TIME_ZONE when it is missing or not a date."""
    raw = request.GET.get("date", "")
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        with suppress(ValueError):
            day = date.fromisoformat(raw)
            if day.year >= 1970:
                return day
    return timezone.localdate()


@page_view
def leaderboard(request: HttpRequest) -> HttpResponse:
    """Users ranked by points or by achievement count, over all time or a period containing
    `?date=`, a page at a time or (`?around=`) around one user."""
    by = request.GET.get("by")
    notice = None
    if by not in stats.LEADERBOARD_FIGURES:
        if by is not None:
            notice = _("There is no ranking by “%(asked)s”; ranked by points instead.") % {
                "asked": by
            }
        by = "points"
    period = request.GET.get("period")
    if period not in stats.PERIODS:
        period = "all"
    day = _day_param(request)
    board = stats.leaderboard(by, period, day)
    context = {
        "nav": "leaderboard",
        "notice": notice,
        "by": by,
        "period": period,
        "date": day,
        "by_points_url": _query_without(request, "page", "by") or "?",
        "by_achievements_url": _query_without(request, "page", by="achievements"),
        "period_tabs": [
            (name, label, _query_without(request, "page", period=name))
            for name, label in PERIOD_TABS
        ],
        "full_board_url": _query_without(request, "page", "around") or "?",
    }
    if period != "all":
        start = stats.period_start(period, day)
        context.update(start=start, end=PERIOD_ENDS[period](start))
    around = request.GET.get("around", "")
    if around:
        try:
            user = user_get(around[:USERNAME_MAX_LENGTH])
        except User.DoesNotExist:
            return _not_found(request, missing_username=around[:USERNAME_MAX_LENGTH])
        found = stats.leaderboard_around(board, by, user, PAGE_SIZE)
        context.update(around=user.username, rows=found.rows, around_rank=found.rank, page=None)
    else:
        page = _paginate(request, board)
        offset = (page.number - 1) * page.paginator.per_page
        context.update(
            page=page, rows=stats.leaderboard_ranked(list(page.object_list), by, offset, board)
        )
    return _render(request, "pages/leaderboard.html", context)


@page_view
def streaks(request: HttpRequest) -> HttpResponse:
    """Users with awards on each of `?days=` consecutive days (default 7), longest first."""
    raw = request.GET.get("days")
    days = int(raw) if raw and raw.isdigit() and len(raw) <= 5 else None
    notice = None
    if days is None or not stats.MIN_STREAK_DAYS <= days <= stats.MAX_STREAK_DAYS:
        if raw is not None:
            notice = _(
                "“%(asked)s” is not a number of days from %(min)s to %(max)s; "
                "showing %(shown)s days in a row instead."
            ) % {
                "asked": raw,
                "min": stats.MIN_STREAK_DAYS,
                "max": stats.MAX_STREAK_DAYS,
                "shown": STREAK_DAYS,
            }
        days = STREAK_DAYS
    context = {
        "nav": "streaks",
        "notice": notice,
        "days": days,
        "ongoing_from": _ongoing_from(),
        "min_days": stats.MIN_STREAK_DAYS,
        "max_days": stats.MAX_STREAK_DAYS,
        "page": _paginate(request, stats.streaks_at_least(days)),
    }
    return _render(request, "pages/streaks.html", context)


@page_view
def user_search_page(request: HttpRequest) -> HttpResponse:
    """Users whose name contains `?q=` (any case); straight to the user when only one does."""
    query = request.GET.get("q", "").strip()[:USERNAME_MAX_LENGTH]
    context = {"nav": "search", "query": query, "page": None}
    if query:
        matches = user_search(query)
        first_two = list(matches[:2])
        if len(first_two) == 1:
            return redirect("pages:user", username=first_two[0].username)
        if first_two:
            context["page"] = _paginate(request, matches)
    return _render(request, "pages/search.html", context)


@page_view
def user_detail(request: HttpRequest, username: str) -> HttpResponse:
    """A user's totals, rank and longest streak, and their achievements in their language."""
    try:
        user = user_get(username)
    except User.DoesNotExist:
        return _not_found(request, missing_username=username)
    page = _paginate(request, award_list_for_user(user))
    # Read the translated texts while the holder's language is active: that is the one shown.
    with translation.override(user.language):
        awards = [
            {
                "code": award.achievement.code,
                "name": award.achievement.name,
                "description": award.achievement.description,
                "points": award.achievement.points,
                "awarded_at": award.awarded_at,
            }
            for award in page.object_list
        ]
        credentials = request_has_credentials(request)
        in_progress = []
        for progress in progress_list_in_progress(user)[:PAGE_SIZE]:
            name, description = achievement_texts(progress.achievement, credentials=credentials)
            in_progress.append(
                {
                    "code": progress.achievement.code,
                    "name": name,
                    "description": description,
                    "steps": progress.steps,
                    "goal": progress.achievement.goal,
                }
            )
    context = {
        "profile": user,
        "in_progress": in_progress,
        "rank": stats.user_rank(user, "points"),
        "points_chart": charts.steps(award_points_timeline(user), timezone.now()),
        "ongoing_from": _ongoing_from(),
        "users_count": user_count(),
        "page": page,
        "awards": awards,
    }
    return _render(request, "pages/user.html", context)


@page_view
def achievement_list(request: HttpRequest) -> HttpResponse:
    """The catalog with points, descriptions and rarity, rarest or most valuable first."""
    order = request.GET.get("order")
    notice = None
    if order not in CATALOG_ORDERS:
        if order is not None:
            notice = _("There is no order “%(asked)s”; showing the rarest first instead.") % {
                "asked": order
            }
        order = CATALOG_ORDERS[0]
    page = _paginate(request, stats.achievement_catalog(order))
    users = user_count()
    context = {
        "nav": "achievements",
        "notice": notice,
        "order": order,
        "page": page,
        "rows": [
            _achievement_row(achievement, users, credentials=request_has_credentials(request))
            for achievement in page.object_list
        ],
        "users_count": users,
        "rarest_url": _query_without(request, "page", "order") or "?",
        "points_url": _query_without(request, "page", order="points"),
    }
    return _render(request, "pages/achievements.html", context)


@page_view
def achievement_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One achievement, how rare it is, and who holds it, latest first."""
    try:
        achievement = achievement_get(code)
    except Achievement.DoesNotExist:
        return _not_found(request, missing_code=code)
    page = _paginate(request, award_list_for_achievement(achievement))
    achievement.holders = page.paginator.count
    users = user_count()
    context = {
        "nav": "achievements",
        "achievement": _achievement_row(
            achievement, users, credentials=request_has_credentials(request)
        ),
        "users_count": users,
        "page": page,
    }
    return _render(request, "pages/achievement.html", context)
