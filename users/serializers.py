"""Users over the API: what a user reads as, and what a client may send."""

from django.conf import settings
from rest_framework import serializers

from core.fields import StrictCharField
from users.models import USERNAME_MAX_LENGTH, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["username", "language", "created_at", "achievements_count", "points"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    # Kept as sent: a username with spaces is refused, not silently trimmed into another one.
    username = StrictCharField(max_length=USERNAME_MAX_LENGTH, trim_whitespace=False)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)


class UserUpdateSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
