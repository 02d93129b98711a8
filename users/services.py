"""Every change to a user goes through these functions (API, admin and commands alike).

A user's stored streak is counted in their time zone, but the streak is computed by the
achievements app, which sits above this one and cannot be imported here. So apps above register
a function in `TIME_ZONE_CHANGE_HOOKS` (achievements does in its AppConfig.ready); `user_update`
calls each one inside its transaction, with the user's row held, after saving the new zone.
A hook that takes locks which come before user rows in the project's lock order (the events
app's event-type and rule locks) takes them from `TIME_ZONE_CHANGE_LOCKS`, which `user_update`
calls before it holds the user's row, whenever a time zone is given.
Likewise `USER_DELETE_HOOKS`, called by `user_delete` with the row held, before the user and
their awards go (achievements keeps its holder counts exact there).
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from core.consistency import Mismatch
from core.db import statement_timeout_lift
from users.models import User, UserCount
from users.selectors import user_count_stored_and_actual, user_username_taken

logger = logging.getLogger(__name__)

USERNAME_TAKEN = "A user with that username already exists."

# Called as hook(user) after a user's time zone changed, in the same transaction.
TIME_ZONE_CHANGE_HOOKS: list[Callable[[User], None]] = []
# Called as lock(user) before the user's row is held, when an update gives a time zone.
TIME_ZONE_CHANGE_LOCKS: list[Callable[[User], None]] = []
# Called as hook(user) when a user is about to be deleted, in the same transaction.
USER_DELETE_HOOKS: list[Callable[[User], None]] = []


@transaction.atomic
def user_create(
    *,
    username: str,
    language: str = settings.LANGUAGE_CODE,
    time_zone: str | None = None,
    created_at: datetime | None = None,
) -> User:
    """Create a user with zero figures; raise ValidationError naming the field that is wrong.
    `created_at` (default now) lets seeding give demo users a past that fits their awards."""
    user = User(username=username, language=language)
    if time_zone is not None:
        user.time_zone = time_zone
    if created_at is not None:
        user.created_at = created_at
    # The case-insensitive rule is a database constraint; checking it here names the field.
    user.full_clean(validate_constraints=False)
    if user_username_taken(username):
        raise ValidationError({"username": [USERNAME_TAKEN]})
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Lost a race with a concurrent create of the same name in another case.
        raise ValidationError({"username": [USERNAME_TAKEN]}) from exc
    logger.info("user created: %s (%s, %s)", user.username, user.language, user.time_zone)
    return user


@transaction.atomic
def user_update(*, user: User, language: str | None = None, time_zone: str | None = None) -> User:
    """Change a user's language and/or time zone; raise ValidationError naming a wrong field.
    A new time zone recomputes the user's figures (streak days) in the same transaction."""
    if time_zone is not None:
        for lock in TIME_ZONE_CHANGE_LOCKS:
            lock(user)
    # Then hold the row: a concurrent delete then waits for this change, or has already won
    # and this raises User.DoesNotExist instead of updating nothing.
    stored = User.objects.select_for_update().get(pk=user.pk)
    if language is not None:
        user.language = language
    if time_zone is not None:
        user.time_zone = time_zone
    user.full_clean(validate_constraints=False, exclude=["username"])
    user.save(update_fields=["language", "time_zone"])
    logger.info("user %s now reads in %s, zone %s", user.username, user.language, user.time_zone)
    if user.time_zone != stored.time_zone:
        for hook in TIME_ZONE_CHANGE_HOOKS:
            hook(user)
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Remove a user with all their awards. No other user's figures depend on them."""
    username = user.username
    # The user's row before their awards, as grants and revocations take it (the lock order in
    # achievements.services): deleting awards first deadlocks with a revocation, and a grant
    # committed meanwhile would fail the delete on its foreign key.
    User.objects.select_for_update().get(pk=user.pk)
    for hook in USER_DELETE_HOOKS:
        hook(user)
    user.delete()
    logger.info("user deleted: %s", username)


def user_bulk_create(*, usernames: list[str], language: str = settings.LANGUAGE_CODE) -> int:
    """Create many users at once for benchmark data, skipping names that exist; returns how
    many were asked for. Each name is validated like `user_create` does."""
    for username in usernames:
        User(username=username, language=language).clean_fields(exclude=["created_at"])
    User.objects.bulk_create(
        [User(username=u, language=language) for u in usernames],
        batch_size=5000,
        ignore_conflicts=True,
    )
    return len(usernames)


def _user_count_mismatches(stored: int, actual: int) -> list[Mismatch]:
    if stored == actual:
        return []
    return [Mismatch(name="users", stored={"users": stored}, expected={"users": actual})]


@transaction.atomic
def user_count_check() -> list[Mismatch]:
    """The user counter when its rows do not sum to the number of users; changes nothing."""
    statement_timeout_lift()
    return _user_count_mismatches(*user_count_stored_and_actual())


@transaction.atomic
def user_count_rebuild() -> list[Mismatch]:
    """Fold the user counter into one row holding the number of users; return what was wrong."""
    statement_timeout_lift()
    if connection.vendor == "postgresql":
        # No user is added or removed until this commits (SQLite writes one at a time anyway):
        # the count and the counter then agree at the commit.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {User._meta.db_table} IN SHARE MODE")
    stored, actual = user_count_stored_and_actual()
    UserCount.objects.all().delete()
    UserCount.objects.create(users=actual)
    logger.info("user count rebuilt: %s (was %s)", actual, stored)
    return _user_count_mismatches(stored, actual)
