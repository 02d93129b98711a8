"""The people who earn achievements. They are not login accounts: operators and integrations
authenticate as Django's own `auth.User`."""

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.collation import BinaryCollate

USERNAME_MAX_LENGTH = 150
# ASCII only, so that "unique regardless of case" means the same thing in Python, PostgreSQL and
# SQLite (whose LOWER() folds ASCII letters only).
USERNAME_REGEX = r"^[A-Za-z0-9@.+_-]+\Z"

validate_username = RegexValidator(
    USERNAME_REGEX,
    "Enter a username of letters, digits and @ . + - _ only.",
    code="invalid_username",
)
# `.` and `..` are path segments that URLs resolve away: such a user could never be reached.
validate_username_not_only_dots = RegexValidator(
    r"^\.+\Z",
    "A username cannot be made of dots only.",
    code="username_only_dots",
    inverse_match=True,
)
# Both rules as one ECMA-262 pattern for the OpenAPI schema: the allowed characters, at least
# one of them not a dot (no lookahead, which not every schema tool supports).
USERNAME_PATTERN = r"^[A-Za-z0-9@.+_-]*[A-Za-z0-9@+_-][A-Za-z0-9@.+_-]*$"

TIME_ZONE_MAX_LENGTH = 64


@cache
def time_zone_names() -> frozenset[str]:
    """Every IANA zone name zoneinfo knows (computed once: it reads the tz database)."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """Accept an IANA time zone name such as "Europe/Moscow" or "UTC"."""
    # The listed names only: ZoneInfo() itself would also open stray files of the tz database.
    if value not in time_zone_names():
        raise ValidationError(
            "Enter an IANA time zone name, such as Europe/Moscow or UTC.", code="invalid_time_zone"
        )


def default_time_zone() -> str:
    return settings.TIME_ZONE


class User(models.Model):
    """Someone who earns achievements, with figures kept exact by `achievements.services`."""

    username = models.CharField(
        _("username"),
        max_length=USERNAME_MAX_LENGTH,
        validators=[validate_username, validate_username_not_only_dots],
        help_text=_(
            "1 to 150 letters, digits and @ . + - _, not only dots; unique regardless of case."
        ),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # The user's calendar days (streaks) are counted in this zone; period boards are not.
    time_zone = models.CharField(
        max_length=TIME_ZONE_MAX_LENGTH,
        default=default_time_zone,
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
        help_text=_("IANA time zone name; this user's streak days are counted in it."),
    )
    created_at = models.DateTimeField(_("joined"), default=timezone.now, editable=False)

    # Derived from the user's awards and rewritten in the same transaction as every change to
    # them; `manage.py rebuild_stats --check` verifies them.
    achievements_count = models.PositiveIntegerField(_("achievements"), default=0, editable=False)
    points = models.BigIntegerField(_("points"), default=0, editable=False)
    longest_streak = models.PositiveIntegerField(
        _("longest streak"),
        default=0,
        editable=False,
        help_text=_("Most consecutive calendar days with an award."),
    )
    streak_start = models.DateField(_("streak start"), null=True, blank=True, editable=False)
    streak_end = models.DateField(_("streak end"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("player")
        verbose_name_plural = _("players")
        ordering = [BinaryCollate("username")]
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="users_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.CheckConstraint(
                condition=models.Q(points__gte=0), name="users_user_points_non_negative"
            ),
        ]
        indexes = [
            # Leaderboards and "most ..." stats: figure descending, then username by code point.
            models.Index(
                models.F("points").desc(), BinaryCollate("username"), name="users_by_points"
            ),
            models.Index(
                models.F("achievements_count").desc(),
                BinaryCollate("username"),
                name="users_by_achievements",
            ),
            models.Index(
                models.F("longest_streak").desc(),
                BinaryCollate("username"),
                name="users_by_streak",
            ),
            # The smallest gap walks users in (points, username) order.
            models.Index(models.F("points"), BinaryCollate("username"), name="users_by_points_asc"),
            models.Index(BinaryCollate("username"), name="users_by_username"),
        ]

    def __str__(self) -> str:
        return self.username


class UserCount(models.Model):
    """Part of how many users there are: the number of users is the sum of these rows.

    Kept by database triggers on the users table (`users/migrations/0006_user_count.py`), so
    every path that adds or removes users counts, the ORM's `bulk_create`, COPY, a TRUNCATE and
    raw SQL included. On PostgreSQL a statement adds its rows' number to whichever row no other
    transaction holds (a new row when all are held), so concurrent registrations never queue
    behind one hot counter; one row alone may go below zero, the sum never does.
    `manage.py rebuild_stats` folds them back into one row and `--check` compares the sum with
    the users.
    """

    users = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.users)
