"""The public pages: home, leaderboard, streaks, user search and profiles, the catalog.

Read-only and server-rendered; each page runs a fixed number of indexed queries, whatever the
number of users or awards. A page has one language for its interface and its achievement texts:
`?lang=`, then the language cookie set by the switcher, then `Accept-Language`, then English.
The one exception is a user's own achievements, always shown in that user's language.
Hidden achievements show their locked texts to visitors without credentials
(achievements.hidden), except on the page of a user who holds them.
"""

from functools import wraps

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.http import require_safe

from achievements.hidden import achievement_texts, request_has_credentials
from achievements.models import Achievement
from achievements.selectors import (
    achievement_get,
    award_list_for_achievement,
    award_list_for_user,
    award_list_recent,
    progress_list_in_progress,
)
from core.languages import request_language
from stats import selectors as stats
from users.models import USERNAME_MAX_LENGTH, User
from users.selectors import user_get, user_search

PAGE_SIZE = 50
# Lists on the home page show this many rows and link to the full, paginated list.
HOME_ROWS = 10
# Tied leaders named on the home page; the rest are counted.
HOME_LEADERS = 5
STREAK_DAYS = stats.DEFAULT_STREAK_DAYS
CATALOG_ORDERS = ("rarest", "points")


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
        "max_gap": stats.max_points_gap(),
        "min_gap": stats.min_points_gap(),
        "streak_days": STREAK_DAYS,
        "streakers": streakers[:HOME_ROWS],
        "streakers_count": streaks.count() if len(streakers) > HOME_ROWS else len(streakers),
        "leaders": stats.leaderboard_ranked(top, "points", 0),
        "recent_awards": _recent_awards(request),
    }
    return _render(request, "pages/home.html", context)


@page_view
def leaderboard(request: HttpRequest) -> HttpResponse:
    """Every user ranked by points or by achievement count, a page at a time."""
    by = request.GET.get("by")
    if by not in stats.LEADERBOARD_FIGURES:
        by = "points"
    page = _paginate(request, stats.leaderboard(by))
    offset = (page.number - 1) * page.paginator.per_page
    context = {
        "nav": "leaderboard",
        "by": by,
        "page": page,
        "rows": stats.leaderboard_ranked(list(page.object_list), by, offset),
        "by_points_url": _query_without(request, "page", "by") or "?",
        "by_achievements_url": _query_without(request, "page", by="achievements"),
    }
    return _render(request, "pages/leaderboard.html", context)


@page_view
def streaks(request: HttpRequest) -> HttpResponse:
    """Users with awards on each of `?days=` consecutive days (default 7), longest first."""
    raw = request.GET.get("days", "")
    days = int(raw) if raw.isdigit() and len(raw) <= 5 else STREAK_DAYS
    if not stats.MIN_STREAK_DAYS <= days <= stats.MAX_STREAK_DAYS:
        days = STREAK_DAYS
    context = {
        "nav": "streaks",
        "days": days,
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
        "users_count": User.objects.count(),
        "page": page,
        "awards": awards,
    }
    return _render(request, "pages/user.html", context)


@page_view
def achievement_list(request: HttpRequest) -> HttpResponse:
    """The catalog with points, descriptions and rarity, rarest or most valuable first."""
    order = request.GET.get("order")
    if order not in CATALOG_ORDERS:
        order = CATALOG_ORDERS[0]
    page = _paginate(request, stats.achievement_catalog(order))
    users = User.objects.count()
    context = {
        "nav": "achievements",
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
    users = User.objects.count()
    context = {
        "nav": "achievements",
        "achievement": _achievement_row(
            achievement, users, credentials=request_has_credentials(request)
        ),
        "users_count": users,
        "page": page,
    }
    return _render(request, "pages/achievement.html", context)
