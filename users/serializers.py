"""Users over the API: what a user reads as, and what a client may send."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictCharField, StrictChoiceField
from users.models import (
    TIME_ZONE_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    USERNAME_PATTERN,
    User,
    validate_time_zone,
    validate_username,
    validate_username_not_only_dots,
)

USERNAME_SCHEMA = {
    "type": "string",
    "pattern": USERNAME_PATTERN,
    "minLength": 1,
    "maxLength": USERNAME_MAX_LENGTH,
}


@extend_schema_field(USERNAME_SCHEMA)
class UsernameField(StrictCharField):
    """A username as sent: a JSON string of the allowed characters, not only dots, kept as is
    (a username with spaces is refused, not silently trimmed into another one)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", USERNAME_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("validators", [validate_username, validate_username_not_only_dots])
        super().__init__(**kwargs)


class TimeZoneField(StrictCharField):
    """An IANA time zone name; anything else is a 400 naming the field."""

    def __init__(self, **kwargs):
        super().__init__(max_length=TIME_ZONE_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            validate_time_zone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "username",
            "language",
            "time_zone",
            "created_at",
            "achievements_count",
            "points",
        ]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = UsernameField()
    language = StrictChoiceField(choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    time_zone = TimeZoneField(required=False, help_text="IANA name; default the service's zone.")


class UserUpdateSerializer(serializers.Serializer):
    language = StrictChoiceField(choices=settings.LANGUAGES, required=False)
    time_zone = TimeZoneField(required=False, help_text="IANA name, e.g. Europe/Moscow.")
