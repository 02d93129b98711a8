"""Queries for the catalog and awards, with what the API and pages need already joined."""

from django.db.models import Exists, F, OuterRef, QuerySet

from achievements.models import Achievement, Award, Progress
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


def achievement_goal_frozen(achievement: Achievement) -> bool:
    """True once anyone has progress toward the achievement or holds it."""
    return (
        Progress.objects.filter(achievement=achievement, steps__gt=0).exists()
        or Award.objects.filter(achievement=achievement).exists()
    )


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


def progress_list_for_user(user: User) -> QuerySet[Progress]:
    """Every achievement the user has steps toward or holds, most recently changed first, each
    with its achievement and `unlocked` (held) — one query however long the list."""
    held = Award.objects.filter(user=OuterRef("user_id"), achievement=OuterRef("achievement_id"))
    return (
        Progress.objects.filter(user=user, steps__gt=0)
        .select_related("achievement")
        .annotate(unlocked=Exists(held))
        .order_by("-updated_at", "-id")
    )


def progress_list_in_progress(user: User) -> QuerySet[Progress]:
    """The user's achievements begun but not reached, most recently changed first."""
    # A held achievement's steps are at its goal, so "below the goal" means "not held".
    return (
        progress_list_for_user(user).filter(steps__lt=F("achievement__goal")).exclude(unlocked=True)
    )
