"""The catalog of achievements and the awards that link users to them."""

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.collation import BinaryCollate
from users.models import User

CODE_MAX_LENGTH = 64
MIN_POINTS = 1
MAX_POINTS = 1_000_000
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
MIN_GOAL = 1
MAX_GOAL = 1_000_000_000

# The same rule as an ECMA-262 pattern, for the OpenAPI schema.
CODE_PATTERN = r"^[a-z0-9_-]+$"
# Event types (the events app's, which sits above this one) are slugs of these characters; a
# rule names one.
EVENT_TYPE_MAX_LENGTH = 64
EVENT_TYPE_REGEX = r"^[a-z0-9_.-]{1,64}\Z"
RULE_MEASURES = ("count", "sum", "days", "streak")
RULE_MEASURE_LABELS = (_("count"), _("sum"), _("days"), _("streak"))

validate_event_type = RegexValidator(
    EVENT_TYPE_REGEX,
    "Enter an event type of 1 to 64 lowercase letters, digits, dots, hyphens and underscores.",
    code="invalid_event_type",
)

validate_code = RegexValidator(
    r"^[a-z0-9_-]+\Z",
    "Enter a code of lowercase letters, digits, hyphens and underscores only.",
    code="invalid_code",
)


class Achievement(models.Model):
    """One entry of the catalog. `name` and `description` are translated (see translation.py)."""

    code = models.CharField(
        _("code"),
        max_length=CODE_MAX_LENGTH,
        unique=True,
        validators=[validate_code],
        error_messages={"unique": "An achievement with this code already exists."},
        help_text=_("Stable identifier used by integrations: a-z, 0-9, - and _."),
    )
    points = models.PositiveIntegerField(
        _("points"), validators=[MinValueValidator(MIN_POINTS), MaxValueValidator(MAX_POINTS)]
    )
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    # TextField's max_length only sizes form widgets; the validator enforces it everywhere.
    description = models.TextField(
        _("description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)],
    )
    goal = models.PositiveIntegerField(
        default=MIN_GOAL,
        validators=[MinValueValidator(MIN_GOAL), MaxValueValidator(MAX_GOAL)],
        verbose_name=_("goal"),
        help_text=_(
            "Steps to unlock it; above 1 it is incremental. "
            "Fixed once anyone has progress toward it or holds it."
        ),
    )
    hidden = models.BooleanField(
        default=False,
        verbose_name=_("hidden"),
        help_text=_("Shown to the public as a locked secret until unlocked."),
    )
    # The rule: progress is the user's `rule_measure` of events of type `rule_event`, capped at
    # the goal. Both set, or neither (constraint below); NULL, not "", is "no rule", so the
    # constraint and the index state it plainly.
    rule_event = models.CharField(  # noqa: DJ001
        max_length=EVENT_TYPE_MAX_LENGTH,
        null=True,
        blank=True,
        validators=[validate_event_type],
        verbose_name=_("rule: event type"),
        help_text=_("Event type whose measure drives progress (empty: no rule)."),
    )
    rule_measure = models.CharField(  # noqa: DJ001
        max_length=8,
        null=True,
        blank=True,
        choices=list(zip(RULE_MEASURES, RULE_MEASURE_LABELS, strict=True)),
        verbose_name=_("rule: measure"),
        help_text=_("count, sum of values, distinct days, or longest streak of days."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("achievement")
        verbose_name_plural = _("achievements")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points__gte=MIN_POINTS, points__lte=MAX_POINTS),
                name="achievements_achievement_points_range",
                violation_error_message=f"Points must be between {MIN_POINTS} and {MAX_POINTS}.",
            ),
            models.CheckConstraint(
                condition=models.Q(goal__gte=MIN_GOAL, goal__lte=MAX_GOAL),
                name="achievements_achievement_goal_range",
                violation_error_message=f"The goal must be between {MIN_GOAL} and {MAX_GOAL}.",
            ),
            models.CheckConstraint(
                condition=models.Q(rule_event__isnull=True, rule_measure__isnull=True)
                | models.Q(rule_event__isnull=False, rule_measure__in=RULE_MEASURES),
                name="achievements_achievement_rule_whole",
                violation_error_message="A rule needs both an event type and a measure.",
            ),
        ]
        indexes = [
            # A batch of events finds the rules of its event types.
            models.Index(fields=["rule_event"], name="achievements_by_rule_event"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def incremental(self) -> bool:
        return self.goal > MIN_GOAL

    @property
    def rule(self) -> dict | None:
        """The event rule its progress follows: {"event", "measure"}, or None."""
        if self.rule_event is None:
            return None
        return {"event": self.rule_event, "measure": self.rule_measure}


class Award(models.Model):
    """A user holding an achievement: at most once, since a moment that is never in the future."""

    # Both foreign keys are covered by the composite indexes below, so they need none of their own.
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="awards",
        db_index=False,
        verbose_name=_("player"),
    )
    # PROTECT: an awarded achievement cannot disappear from under its holders' figures.
    achievement = models.ForeignKey(
        Achievement,
        on_delete=models.PROTECT,
        related_name="awards",
        db_index=False,
        verbose_name=_("achievement"),
    )
    awarded_at = models.DateTimeField(_("awarded at"), default=timezone.now)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="awards_given",
        verbose_name=_("awarded by"),
        help_text=_("The operator or integration account that granted it, when known."),
    )

    class Meta:
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        ordering = ["-awarded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "achievement"],
                name="achievements_award_once_per_user",
                violation_error_message="This user already holds this achievement.",
            ),
        ]
        indexes = [
            # A user's awards newest first, and the per-user streak recomputation.
            models.Index(fields=["user", "-awarded_at"], name="awards_by_user_time"),
            # Holder counts and the points-change update find holders by achievement.
            models.Index(fields=["achievement", "user"], name="awards_by_achievement"),
            # Recent awards on the home page and the admin's date filter.
            models.Index(fields=["-awarded_at"], name="awards_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.achievement.code}"


ACTIVITY_REASON_MAX_LENGTH = 500


class Activity(models.Model):
    """One grant or revocation, as the feed and the webhooks report it. Names are copied, not
    linked: the entry keeps saying what happened after the user or achievement is gone. Ids
    increase in commit order (see achievements.services.awards, the feed lock)."""

    GRANTED = "award.granted"
    REVOKED = "award.revoked"
    TYPES = [(GRANTED, GRANTED), (REVOKED, REVOKED)]

    type = models.CharField(max_length=20, choices=TYPES)
    user = models.CharField(max_length=150, help_text="The holder's username.")
    achievement = models.CharField(max_length=CODE_MAX_LENGTH)
    points = models.PositiveIntegerField(help_text="The achievement's points at that moment.")
    at = models.DateTimeField(
        help_text="A grant: the award's time. A revocation: when it was revoked."
    )
    # Empty when unknown or not given; the API shows null.
    by = models.CharField(
        max_length=150, blank=True, default="", help_text="The account that made the change."
    )
    reason = models.CharField(max_length=ACTIVITY_REASON_MAX_LENGTH, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("activity entry")
        verbose_name_plural = _("activity")
        indexes = [
            # The feed filtered by user reads one user's entries in id order.
            models.Index(fields=["user", "id"], name="activity_by_user"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} {self.achievement} · {self.user}"


class Progress(models.Model):
    """A user's steps toward an achievement: 0 up to its goal, changed only by
    achievements.services.progress (and set to the goal or 0 by a grant or revocation)."""

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="progress",
        db_index=False,
        verbose_name=_("player"),
    )
    # CASCADE: progress alone never blocks a deletion (a held achievement is PROTECTed by its
    # award, and a goal with progress is frozen, not the entry).
    achievement = models.ForeignKey(
        Achievement,
        on_delete=models.CASCADE,
        related_name="progress",
        db_index=False,
        verbose_name=_("achievement"),
    )
    steps = models.PositiveIntegerField(_("steps"), default=0)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # The award was revoked: its rule (events) does not grant it again; an explicit grant
    # clears this.
    # db_default: rows inserted in raw SQL (bulk loads) start unrevoked too.
    rule_revoked = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name = _("progress")
        verbose_name_plural = _("progress")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "achievement"], name="achievements_progress_once_per_user"
            ),
            models.CheckConstraint(
                condition=models.Q(steps__gte=0, steps__lte=MAX_GOAL),
                name="achievements_progress_steps_range",
            ),
        ]
        # A user's progress list (most recently changed first) reads the user's rows through
        # the unique (user, achievement) index and sorts them: its page count reads them all
        # anyway. No (user, updated_at) index: every write of steps moved its entry, and event
        # batches write thousands of progress rows.
        indexes = [
            # "Has anyone progress toward it?" when a goal change is asked for.
            models.Index(fields=["achievement", "user"], name="progress_by_achievement"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.achievement.code}: {self.steps}"


class PeriodFigure(models.Model):
    """A user's figures over one calendar period (a day, Monday-based week, month or year in
    the service's TIME_ZONE), counting only awards dated inside it, at current points.

    Derived from the awards and kept exact in the same transaction as every change to them
    (see achievements.services); `manage.py rebuild_stats --check` verifies them. A row exists
    only while the user has at least one award in the period.
    """

    class Kind(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        YEAR = "year"

    kind = models.CharField(max_length=5, choices=Kind.choices)
    start = models.DateField(help_text="The period's first day.")
    # No database constraint: these rows are derived, written only by the services under the
    # user's row lock, and deleted with their user by the ORM's cascade (user_delete); a
    # deferred foreign-key check per row would double the commit of a million-award load.
    # `rebuild_stats --check` reports any row that does not match a user's awards.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # A copy of the user's username, which never changes once created: the boards order ties
    # by it, and having it here makes every page of a board one index read with no join.
    username = models.CharField(max_length=150)
    achievements_count = models.PositiveIntegerField()
    points = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index the write path and the user's cascade delete look rows up by.
            models.UniqueConstraint(
                fields=["user", "kind", "start"], name="achievements_period_figure_once"
            ),
            models.CheckConstraint(
                condition=models.Q(achievements_count__gt=0, points__gt=0),
                name="achievements_period_figure_positive",
            ),
        ]
        indexes = [
            # A period's board, by either figure: figure descending, then username by code point.
            models.Index(
                "kind",
                "start",
                models.F("points").desc(),
                BinaryCollate("username"),
                name="periods_by_points",
            ),
            models.Index(
                "kind",
                "start",
                models.F("achievements_count").desc(),
                BinaryCollate("username"),
                name="periods_by_achievements",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.kind} {self.start}"


class HolderCount(models.Model):
    """Part of how many users hold an achievement: its holders are the sum of its rows.

    A grant adds 1 and a revocation or a holder's deletion subtracts 1, in the same transaction,
    to whichever of the achievement's rows no other transaction holds at that moment (a new
    row when all are held), so concurrent grants of one popular achievement never queue behind
    one hot counter; one row alone may go below zero, the sum never does. Derived from the
    awards: `manage.py rebuild_stats` folds them back into one row per achievement and
    `--check` compares the sums with the awards.
    """

    # No database constraint: a new counter row then takes no key lock on the achievement, so
    # a user's deletion (which holds no achievement row) never waits for a points change that
    # waits for that user. Deleted with their achievement by the ORM's cascade, which only
    # happens once nobody holds it.
    achievement = models.ForeignKey(
        Achievement,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("achievement"),
    )
    holders = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.achievement_id}: {self.holders}"
