"""The events API's shapes. Events themselves are checked by `events.services.event_validate`
(every path that records events shares it); the input serializers here describe them for the
OpenAPI schema."""

from rest_framework import serializers

from events.models import EVENT_ID_MAX_LENGTH, EVENT_TYPE_MAX_LENGTH, MAX_VALUE, Measure
from users.models import USERNAME_MAX_LENGTH


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=EVENT_ID_MAX_LENGTH, help_text="The sender's unique id for the event."
    )
    user = serializers.CharField(max_length=USERNAME_MAX_LENGTH, help_text="A username.")
    type = serializers.RegexField(
        r"^[a-z0-9_.-]{1,64}$",
        max_length=EVENT_TYPE_MAX_LENGTH,
        help_text="The event type: 1-64 of a-z, 0-9, '.', '-', '_'.",
    )
    value = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_VALUE, help_text="Defaults to 1."
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened; defaults to now. May be past, never future."
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, min_length=1, max_length=1000)


class EventResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    unlocked = serializers.ListField(child=serializers.CharField())


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventResultSerializer(many=True)


class MeasureSerializer(serializers.ModelSerializer):
    count = serializers.IntegerField(source="event_count")
    sum = serializers.IntegerField(source="value_sum")

    class Meta:
        model = Measure
        fields = ["type", "count", "sum", "days", "longest_streak", "last_occurred_at"]
        read_only_fields = fields
