"""Queries for the catalog and awards, with what the API and pages need already joined."""

from django.db.models import QuerySet

from achievements.models import Achievement, Activity, Award
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


def activity_after(*, after: int, limit: int, username: str | None = None) -> list[Activity]:
    """Up to `limit` activity entries with ids above `after`, oldest first (optionally one
    user's). Ids increase in commit order (the feed lock), so paging on the last id never skips
    an entry, even while writes go on."""
    entries = Activity.objects.filter(id__gt=after)
    if username is not None:
        entries = entries.filter(user=username)
    return list(entries.order_by("id")[:limit])


def activity_head() -> int:
    """The id of the newest activity entry (0 when there is none)."""
    return Activity.objects.order_by("-id").values_list("id", flat=True).first() or 0
