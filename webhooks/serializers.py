"""Webhook endpoints and deliveries over the API."""

from rest_framework import serializers

from core.fields import StrictCharField
from webhooks.models import EVENT_TYPES, URL_MAX_LENGTH, Delivery, Endpoint


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint as its owner reads it: never with its secret."""

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "active", "disabled_reason", "created_at"]
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointSerializer):
    """The answer to a registration: the only time the secret is shown."""

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointWriteSerializer(serializers.Serializer):
    """What a client may send to register (`url` required) or change an endpoint."""

    url = StrictCharField(max_length=URL_MAX_LENGTH)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        help_text="Event types to send; empty or omitted for every type.",
    )
    active = serializers.BooleanField(required=False)

    def validate_active(self, value):
        if not isinstance(self.initial_data.get("active"), bool):
            raise serializers.ValidationError("Must be true or false.")
        return value


class DeliverySerializer(serializers.ModelSerializer):
    """One message to an endpoint and how its attempts went."""

    class Meta:
        model = Delivery
        fields = [
            "id",
            "message_id",
            "event_type",
            "activity_id",
            "status",
            "attempts",
            "last_response_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields
