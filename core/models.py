"""The one model the cross-cutting layer keeps: responses stored under an Idempotency-Key."""

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_MAX_LENGTH = 255


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, per credential account.

    Written in the same transaction as the request's effect (core.idempotency), so a crash
    leaves both or neither; removed by `purge_idempotency_keys` once expired.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "in flight"
        DONE = "done", "done"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    # sha256 of method, path and body: the same key with another request is refused (422).
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="core_idempotency_key_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_by_time")]

    def __str__(self) -> str:
        return f"{self.account_id} · {self.key}"
