"""What users do, as integrations report it, and the measures kept per (user, event type).

`Event` holds every accepted event once (its sender's id is unique). `EventDay` and `Measure`
are derived from the events and rewritten in the same transaction as each batch
(`events.services.events_record`); `manage.py rebuild_stats --check` verifies them.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from achievements.models import (  # noqa: F401 (EVENT_TYPE_REGEX: re-exported)
    EVENT_TYPE_MAX_LENGTH,
    EVENT_TYPE_REGEX,
    validate_event_type,
)
from users.models import User

EVENT_ID_MAX_LENGTH = 100
MAX_VALUE = 1_000_000_000


class Event(models.Model):
    """One thing a user did, accepted once: a repeat of its `event_id` is a duplicate."""

    event_id = models.CharField(
        _("event id"),
        max_length=EVENT_ID_MAX_LENGTH,
        help_text=_("The sender's id for the event, unique across all senders."),
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="events", verbose_name=_("user")
    )
    type = models.CharField(
        _("type"), max_length=EVENT_TYPE_MAX_LENGTH, validators=[validate_event_type]
    )
    value = models.PositiveIntegerField(_("value"), default=1)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events_sent",
        verbose_name=_("sent by"),
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-id"]
        constraints = [
            # Duplicates are refused here, by the insert itself (ON CONFLICT DO NOTHING). A
            # constraint rather than unique=True: no second, pattern-matching index to keep.
            models.UniqueConstraint(fields=["event_id"], name="events_event_id_unique"),
            models.CheckConstraint(
                condition=models.Q(value__lte=MAX_VALUE), name="events_event_value_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} · {self.type}"


class EventDay(models.Model):
    """A user's events of one type on one calendar day: how many, their value, the latest."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, db_index=False)
    type = models.CharField(max_length=EVENT_TYPE_MAX_LENGTH)
    day = models.DateField()
    event_count = models.BigIntegerField()
    value_sum = models.BigIntegerField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The upsert's conflict target; it also serves every per-(user, type) read.
            models.UniqueConstraint(
                fields=["user", "type", "day"], name="events_eventday_once_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.type} · {self.day}"


class Measure(models.Model):
    """A user's figures for one event type: count, sum, distinct days, longest run of
    consecutive days, and the latest occurrence."""

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        db_index=False,
        related_name="measures",
        verbose_name=_("user"),
    )
    type = models.CharField(_("type"), max_length=EVENT_TYPE_MAX_LENGTH)
    event_count = models.BigIntegerField(_("count"))
    value_sum = models.BigIntegerField(_("sum"))
    days = models.PositiveIntegerField(_("days"))
    longest_streak = models.PositiveIntegerField(_("longest streak"))
    last_occurred_at = models.DateTimeField(_("last occurred at"))

    class Meta:
        verbose_name = _("measure")
        verbose_name_plural = _("measures")
        ordering = ["user", "type"]
        constraints = [
            models.UniqueConstraint(fields=["user", "type"], name="events_measure_once_per_type"),
        ]
        indexes = [
            # Rules read every user's measure of one type.
            models.Index(fields=["type", "user"], name="measures_by_type"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.type}"
