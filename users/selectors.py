"""Queries for users, with the case-insensitive username rule applied in one place."""

from django.db import connection
from django.db.models import Case, QuerySet, Value, When
from django.db.models.functions import Lower

from core.collation import BinaryCollate
from users.models import User, UserCount


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


def user_get_brief(username: str) -> User:
    """The user with this username in any case, with only `id`, `username` and `language`
    loaded (the rest read on access), found by one prepared statement instead of a compiled
    query: for a grant, the hottest write. Same rule as user_get; raises User.DoesNotExist."""
    if not username.isascii() or "\x00" in username:
        raise User.DoesNotExist(username)
    with connection.cursor() as cursor:
        cursor.execute(_BRIEF_SQL, [username.lower()])
        row = cursor.fetchone()
    if row is None:
        raise User.DoesNotExist(username)
    return User.from_db(connection.alias, ["id", "username", "language"], row)


_BRIEF_SQL = f"SELECT id, username, language FROM {User._meta.db_table} WHERE LOWER(username) = %s"


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


# The number of users as one scalar statement, also for use as a subquery (stats' boards).
USER_COUNT_SQL = f"SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) FROM {UserCount._meta.db_table}"


def user_count() -> int:
    """How many users there are, exact in this statement's snapshot: the sum of the few counter
    rows the users table's triggers keep, not a scan of the users."""
    with connection.cursor() as cursor:
        cursor.execute(USER_COUNT_SQL)
        return int(cursor.fetchone()[0])


def user_count_stored_and_actual() -> tuple[int, int]:
    """(the counters' sum, the users counted one by one), read in one snapshot."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({USER_COUNT_SQL}), (SELECT COUNT(*) FROM {User._meta.db_table})")
        stored, actual = cursor.fetchone()
    return int(stored), int(actual)
