"""Queries for the catalog and awards, with what the API and pages need already joined."""

from datetime import datetime

from django.db.models import QuerySet

from achievements.models import Achievement, Award
from users.models import User


def achievement_list() -> QuerySet[Achievement]:
    """The whole catalog, by code."""
    return Achievement.objects.order_by("code")


def achievement_get(code: str) -> Achievement:
    """The achievement with this code; raises Achievement.DoesNotExist."""
    if "\x00" in code:
        # No code holds a NUL (PostgreSQL text cannot even compare one).
        raise Achievement.DoesNotExist(code)
    return Achievement.objects.get(code=code)


def award_list_for_user(user: User) -> QuerySet[Award]:
    """A user's awards, newest first, each with its achievement."""
    return (
        Award.objects.filter(user=user).select_related("achievement").order_by("-awarded_at", "-id")
    )


def award_list_recent() -> QuerySet[Award]:
    """Every award, newest first, each with its user and achievement."""
    # No tie-break on id: it would make the database sort every award of an imported batch
    # that shares one timestamp before it can return the first ten.
    return Award.objects.select_related("user", "achievement").order_by("-awarded_at")


def award_list_for_achievement(achievement: Achievement) -> QuerySet[Award]:
    """An achievement's awards, newest first, each with its holder."""
    return (
        Award.objects.filter(achievement=achievement)
        .select_related("user")
        .order_by("-awarded_at", "-id")
    )


def award_points_timeline(user: User) -> list[tuple[datetime, int]]:
    """The user's points after each of their awards, oldest first, at today's points of each
    achievement (so the last figure is the user's total): one query."""
    total, timeline = 0, []
    rows = (
        Award.objects.filter(user=user)
        .order_by("awarded_at", "pk")
        .values_list("awarded_at", "achievement__points")
    )
    for awarded_at, points in rows:
        total += points
        timeline.append((awarded_at, total))
    return timeline
