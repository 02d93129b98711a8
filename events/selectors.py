"""Queries for events and measures, with what the API and the admin need already applied."""

from django.db.models import QuerySet

from core.collation import BinaryCollate
from events.models import Event, Measure
from users.models import User


def measure_list_for_user(user: User) -> QuerySet[Measure]:
    """A user's measures, one per event type, by type (code point order)."""
    return Measure.objects.filter(user=user).order_by(BinaryCollate("type"))


def event_types_seen() -> list[str]:
    """Every event type that has a measure, in code point order."""
    return list(
        Measure.objects.order_by(BinaryCollate("type")).values_list("type", flat=True).distinct()
    )


def event_list_recent() -> QuerySet[Event]:
    """Every event, the most recently received first, each with its user and sender."""
    return Event.objects.select_related("user", "sent_by").order_by("-id")
