"""Queries for users, with the case-insensitive username rule applied in one place."""

from django.db.models import QuerySet
from django.db.models.functions import Lower

from users.collation import BinaryCollate
from users.models import User


def _by_username(queryset: QuerySet[User], username: str) -> QuerySet[User]:
    # LOWER(username) = lower(value) uses the unique index on LOWER(username); usernames are
    # ASCII, so Python's lower() and the database's agree.
    return queryset.alias(username_lower=Lower("username")).filter(username_lower=username.lower())


def user_get(username: str) -> User:
    """The user with this username in any case; raises User.DoesNotExist."""
    return _by_username(User.objects.all(), username).get()


def user_username_taken(username: str) -> bool:
    """Whether a user already has this username, compared regardless of case."""
    return _by_username(User.objects.all(), username).exists()


def user_list(*, search: str | None = None) -> QuerySet[User]:
    """All users by username (code point order), optionally those whose name contains `search`."""
    users = User.objects.order_by(BinaryCollate("username"))
    if search:
        users = users.filter(username__icontains=search)
    return users
