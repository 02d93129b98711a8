"""Webhook endpoints, the deliveries made to them, and the workers' heartbeats."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

URL_MAX_LENGTH = 2000
EVENT_TYPES = ["award.granted", "award.revoked"]
TEST_EVENT = "webhook.test"


class Endpoint(models.Model):
    """Where an account wants the activity sent. `cursor` is the last feed entry the worker has
    turned into deliveries for it; the feed never skips, so neither does the cursor."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=URL_MAX_LENGTH)
    events = models.JSONField(
        default=list, blank=True, help_text="Event types to send; empty for every type."
    )
    active = models.BooleanField(default=True)
    # Shown once, at creation (and at rotation); the admin never displays it.
    secret = models.CharField(max_length=100, editable=False)
    cursor = models.BigIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Every attempt has failed since then."
    )
    disabled_reason = models.CharField(max_length=500, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class Delivery(models.Model):
    """One message to one endpoint, with its attempts so far. `body` is fixed at creation, so
    every retry sends the same bytes under the same `webhook-id`. The task that sends it is a
    row of the Tasks framework's database backend; `next_attempt_at` is when that task runs,
    empty while the endpoint is inactive (its reactivation enqueues the task again)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    STATUSES = [(PENDING, PENDING), (DELIVERED, DELIVERED), (FAILED, FAILED)]

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=30)
    activity_id = models.BigIntegerField(null=True, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # A feed entry becomes at most one delivery per endpoint, whichever worker plans it.
            models.UniqueConstraint(
                fields=["endpoint", "activity_id"],
                condition=models.Q(activity_id__isnull=False),
                name="webhooks_delivery_once_per_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="deliveries_by_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class WorkerHeartbeat(models.Model):
    """A running worker's last sign of life; `worker --check` reads it."""

    name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
