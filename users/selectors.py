"""Queries for users, with the case-insensitive username rule applied in one place."""

from django.db.models import Case, QuerySet, Value, When
from django.db.models.functions import Lower

from core.collation import BinaryCollate
from users.models import User


def _by_username(queryset: QuerySet[User], username: str) -> QuerySet[User]:
    # LOWER(username) = lower(value) uses the unique index on LOWER(username); usernames are
    # ASCII, so Python's lower() and the database's agree. A non-ASCII name matches nobody,
    # even one that Python lower-cases to ASCII (the Kelvin sign "K" becomes "k").
    if not username.isascii() or "\x00" in username:
        return queryset.none()
    return queryset.alias(username_lower=Lower("username")).filter(username_lower=username.lower())


def user_get(username: str) -> User:
    """The user with this username in any case; raises User.DoesNotExist."""
    return _by_username(User.objects.all(), username).get()


def user_username_taken(username: str) -> bool:
    """Whether a user already has this username, compared regardless of case."""
    return _by_username(User.objects.all(), username).exists()


def user_list() -> QuerySet[User]:
    """All users by username (code point order)."""
    return User.objects.order_by(BinaryCollate("username"))


def user_search(query: str) -> QuerySet[User]:
    """Users whose username contains `query` in any case: an exact match first, then by username."""
    if "\x00" in query:
        return User.objects.none()
    exact = Case(When(username_lower=query.lower(), then=Value(0)), default=Value(1))
    return (
        User.objects.alias(username_lower=Lower("username"))
        .filter(username__icontains=query)
        .order_by(exact, BinaryCollate("username"))
    )
