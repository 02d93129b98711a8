"""The catalog and awards over the API. Translated columns follow settings.LANGUAGES, so a new
language needs no change here."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from modeltranslation.utils import build_localized_fieldname
from rest_framework import serializers

from achievements.models import (
    ACTIVITY_REASON_MAX_LENGTH,
    CODE_MAX_LENGTH,
    CODE_PATTERN,
    DESCRIPTION_MAX_LENGTH,
    MAX_POINTS,
    MIN_POINTS,
    NAME_MAX_LENGTH,
    Achievement,
    Activity,
    Award,
    validate_code,
)
from core.fields import DigitsField, StrictCharField, StrictIntegerField, StrictSlugRelatedField
from core.languages import language_codes

TRANSLATED = {
    "name": NAME_MAX_LENGTH,
    "description": DESCRIPTION_MAX_LENGTH,
}


def _localized(field: str) -> list[str]:
    return [build_localized_fieldname(field, code) for code in language_codes()]


class AchievementSerializer(serializers.ModelSerializer):
    """An entry as clients read it: `name`/`description` in the active language (English when
    that translation is missing), plus every language's own column."""

    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)

    class Meta:
        model = Achievement
        fields = [
            "code",
            "points",
            "name",
            "description",
            *_localized("name"),
            *_localized("description"),
            "created_at",
        ]
        read_only_fields = fields


class AchievementWriteSerializer(serializers.Serializer):
    """What a client may send to create (all English fields required) or change an entry."""

    code = StrictCharField(
        max_length=CODE_MAX_LENGTH,
        required=False,
        validators=[validate_code],
        help_text="Slug of a-z, 0-9, - and _. Made from the English name when omitted.",
    )
    points = StrictIntegerField(min_value=MIN_POINTS, max_value=MAX_POINTS)

    def get_fields(self):
        fields = super().get_fields()
        for field, max_length in TRANSLATED.items():
            for code in language_codes():
                english = code == settings.LANGUAGE_CODE
                fields[build_localized_fieldname(field, code)] = StrictCharField(
                    max_length=max_length,
                    required=english and not self.partial,
                    # English is the fallback: it may be left out of a PATCH, never emptied.
                    allow_blank=not english,
                    allow_null=not english,
                )
        if self.instance is not None:
            # The code is the key integrations use in URLs: fixed once created.
            fields["code"].read_only = True
        return fields

    def texts(self, field: str) -> dict[str, str]:
        """The sent translations of `field`, by language."""
        return {
            code: self.validated_data[name] or ""
            for code in language_codes()
            if (name := build_localized_fieldname(field, code)) in self.validated_data
        }


class AwardSerializer(serializers.ModelSerializer):
    """An award as clients read it, in the holder's language."""

    achievement = serializers.SlugRelatedField(slug_field="code", read_only=True)
    name = serializers.CharField(source="achievement.name", read_only=True)
    description = serializers.CharField(source="achievement.description", read_only=True)
    points = serializers.IntegerField(source="achievement.points", read_only=True)

    class Meta:
        model = Award
        fields = ["achievement", "name", "description", "points", "awarded_at"]
        read_only_fields = fields


@extend_schema_field({"type": "string", "pattern": CODE_PATTERN, "maxLength": CODE_MAX_LENGTH})
class AchievementCodeField(StrictSlugRelatedField):
    """An achievement named by its code, a JSON string."""


class AwardCreateSerializer(serializers.Serializer):
    achievement = AchievementCodeField(
        slug_field="code",
        queryset=Achievement.objects.all(),
        error_messages={"does_not_exist": "Unknown achievement code {value!r}."},
        help_text="The achievement's code.",
    )
    awarded_at = serializers.DateTimeField(
        required=False,
        help_text="When it was earned; defaults to now. May be past, never future.",
    )


class AwardRevokeSerializer(serializers.Serializer):
    """The optional reason of a revocation (JSON body or `?reason=`)."""

    reason = StrictCharField(
        max_length=ACTIVITY_REASON_MAX_LENGTH, required=False, allow_blank=True, allow_null=True
    )


class ActivitySerializer(serializers.ModelSerializer):
    """One feed entry, as the feed and the webhook deliveries carry it."""

    class Meta:
        model = Activity
        fields = ["id", "type", "user", "achievement", "points", "at", "by", "reason"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Stored empty, shown as null: no account, no reason.
        data["by"] = data["by"] or None
        data["reason"] = data["reason"] or None
        return data


class ActivityQuerySerializer(serializers.Serializer):
    """The feed's query: `after` (an entry id, default 0) and `user` (a username)."""

    after = DigitsField(required=False, default=0)
    user = StrictCharField(required=False, max_length=150)
