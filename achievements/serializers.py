"""The catalog and awards over the API. Translated columns follow settings.LANGUAGES, so a new
language needs no change here."""

import contextlib
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from modeltranslation.utils import build_localized_fieldname
from rest_framework import serializers

from achievements.hidden import mask_representation, request_has_credentials, texts_revealed
from achievements.models import (
    ACTIVITY_REASON_MAX_LENGTH,
    CODE_MAX_LENGTH,
    CODE_PATTERN,
    DESCRIPTION_MAX_LENGTH,
    MAX_GOAL,
    MAX_POINTS,
    MIN_GOAL,
    MIN_POINTS,
    NAME_MAX_LENGTH,
    Achievement,
    Activity,
    Award,
    Progress,
    validate_code,
)
from achievements.selectors import achievement_get_brief
from core.fields import (
    DigitsField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSlugRelatedField,
    datetime_representer,
)
from core.languages import language_codes

TRANSLATED = {
    "name": NAME_MAX_LENGTH,
    "description": DESCRIPTION_MAX_LENGTH,
}


def _localized(field: str) -> list[str]:
    return [build_localized_fieldname(field, code) for code in language_codes()]


class HiddenMaskMixin:
    """Masks a hidden achievement's texts for requests without credentials (achievements.hidden
    holds the rule). Every representation of an achievement mixes this in; the view passes its
    request in the context (or `credentials` directly). Costs no query."""

    def has_credentials(self) -> bool:
        if "credentials" in self.context:
            return self.context["credentials"]
        return request_has_credentials(self.context.get("request"))

    def achievement_of(self, instance) -> Achievement:
        return instance

    def held(self, instance) -> bool:
        return False

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not texts_revealed(
            self.achievement_of(instance),
            credentials=self.has_credentials(),
            held=self.held(instance),
        ):
            mask_representation(data)
        return data


# The rule an achievement's progress follows: a user's measure of one event type.
RULE_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {
        "event": {"type": "string", "pattern": "^[a-z0-9_.-]{1,64}$"},
        "measure": {"type": "string", "enum": ["count", "sum", "days", "streak"]},
    },
    "required": ["event", "measure"],
}


@extend_schema_field(RULE_SCHEMA)
class RuleField(serializers.JSONField):
    """`{"event", "measure"}` or null; checked by achievements.services.rules.rule_validate,
    which every write path shares."""


class AchievementSerializer(HiddenMaskMixin, serializers.ModelSerializer):
    """An entry as clients read it: `name`/`description` in the active language (English when
    that translation is missing), plus every language's own column. A hidden entry shows
    locked texts to requests without credentials."""

    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    rule = serializers.SerializerMethodField()

    class Meta:
        model = Achievement
        fields = [
            "code",
            "points",
            "goal",
            "hidden",
            "rule",
            "name",
            "description",
            *_localized("name"),
            *_localized("description"),
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RULE_SCHEMA)
    def get_rule(self, achievement) -> dict | None:
        return achievement.rule


class AchievementWriteSerializer(serializers.Serializer):
    """What a client may send to create (all English fields required) or change an entry."""

    code = StrictCharField(
        max_length=CODE_MAX_LENGTH,
        required=False,
        validators=[validate_code],
        help_text="Slug of a-z, 0-9, - and _. Made from the English name when omitted.",
    )
    points = StrictIntegerField(min_value=MIN_POINTS, max_value=MAX_POINTS)
    goal = StrictIntegerField(
        min_value=MIN_GOAL,
        max_value=MAX_GOAL,
        required=False,
        help_text="Steps to unlock it (default 1); above 1 it is incremental. "
        "Fixed once anyone has progress toward it or holds it (409).",
    )
    hidden = StrictBooleanField(
        required=False,
        help_text="Secret until unlocked: requests without credentials see a locked text.",
    )
    rule = RuleField(
        required=False,
        allow_null=True,
        help_text='{"event": <event type>, "measure": "count"|"sum"|"days"|"streak"} or null: '
        "progress follows the user's measure of those events; users already past the goal "
        "get the achievement at once.",
    )

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

    def settings(self) -> dict:
        """The sent `goal`, `hidden` and `rule`, by name (those left out are absent)."""
        return {
            name: self.validated_data[name]
            for name in ("goal", "hidden", "rule")
            if name in self.validated_data
        }

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


# The field ModelSerializer makes for Award.awarded_at: same format, same time zone.
_AWARDED_AT = serializers.DateTimeField(read_only=True)


def award_rows_representation(rows) -> list[dict]:
    """AwardSerializer's output for rows of `award_page_for_username`, built without model
    instances (the user awards list is the hottest read); equal by test."""
    represent = datetime_representer(_AWARDED_AT)
    return [
        {
            "achievement": code,
            "name": name,
            "description": description,
            "points": points,
            "awarded_at": represent(awarded_at),
        }
        for code, name, description, points, awarded_at in rows
    ]


def award_representation(award: Award) -> dict:
    """AwardSerializer(award).data built without the serializer (a grant's answer), texts in
    the active language; equal by test."""
    achievement = award.achievement
    name, description = achievement.name, achievement.description
    return {
        "achievement": achievement.code,
        "name": None if name is None else str(name),
        "description": None if description is None else str(description),
        "points": int(achievement.points),
        "awarded_at": _AWARDED_AT.to_representation(award.awarded_at),
    }


@extend_schema_field({"type": "string", "pattern": CODE_PATTERN, "maxLength": CODE_MAX_LENGTH})
class AchievementCodeField(StrictSlugRelatedField):
    """An achievement named by its code, a JSON string; found by a prepared statement (a
    grant's hot path), with the same answers as the queryset look-up."""

    # On the class, not passed in: DRF deep-copies a field's arguments for every serializer
    # instance, and a queryset's deep copy copies its whole query.
    queryset = Achievement.objects.all()

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            # Refused, or (a NUL) left to the database's own answer, exactly as before.
            return super().to_internal_value(data)
        try:
            return achievement_get_brief(data)
        except Achievement.DoesNotExist:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)


class AwardCreateSerializer(serializers.Serializer):
    achievement = AchievementCodeField(
        slug_field="code",
        error_messages={"does_not_exist": "Unknown achievement code {value!r}."},
        help_text="The achievement's code.",
    )
    awarded_at = serializers.DateTimeField(
        required=False,
        help_text="When it was earned; defaults to now. May be past, never future.",
    )


def award_create_validated(data) -> tuple[Achievement, datetime | None]:
    """`AwardCreateSerializer(data=data)`'s validated (achievement, awarded_at), or its
    ValidationError. A JSON object naming an existing achievement by a code and nothing else
    the serializer reads (a grant's usual body) is answered from the code look-up alone,
    without building the serializer and its fields; any other body, and an unknown code,
    goes through the serializer itself."""
    if type(data) is dict and "awarded_at" not in data:
        code = data.get("achievement")
        if type(code) is str and code and "\x00" not in code:
            with contextlib.suppress(Achievement.DoesNotExist):
                return achievement_get_brief(code), None
    given = AwardCreateSerializer(data=data)
    given.is_valid(raise_exception=True)
    return given.validated_data["achievement"], given.validated_data.get("awarded_at")


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


class ProgressSerializer(HiddenMaskMixin, serializers.ModelSerializer):
    """A user's progress toward one achievement, in the user's language. `unlocked` comes
    from the selector's annotation (or is set by the view)."""

    achievement = serializers.SlugRelatedField(slug_field="code", read_only=True)
    name = serializers.CharField(source="achievement.name", read_only=True)
    description = serializers.CharField(source="achievement.description", read_only=True)
    goal = serializers.IntegerField(source="achievement.goal", read_only=True)
    percent = serializers.SerializerMethodField()
    unlocked = serializers.BooleanField(read_only=True)

    class Meta:
        model = Progress
        fields = [
            "achievement",
            "name",
            "description",
            "steps",
            "goal",
            "percent",
            "unlocked",
            "updated_at",
        ]
        read_only_fields = fields

    def achievement_of(self, progress) -> Achievement:
        return progress.achievement

    def held(self, progress) -> bool:
        return progress.unlocked

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_percent(self, progress) -> float:
        # Rounded down: 100.00 means done, never "almost".
        exact = Decimal(progress.steps * 100) / Decimal(progress.achievement.goal)
        return float(exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN))


class ProgressChangeSerializer(ProgressSerializer):
    """The answer to a progress change: the progress, and whether this call unlocked it."""

    unlocked_now = serializers.BooleanField(read_only=True)

    class Meta(ProgressSerializer.Meta):
        fields = [*ProgressSerializer.Meta.fields, "unlocked_now"]
        read_only_fields = fields


class ProgressInputSerializer(serializers.Serializer):
    """Exactly one of `increment` (adds) and `steps` (sets at least)."""

    achievement = StrictSlugRelatedField(
        slug_field="code",
        queryset=Achievement.objects.all(),
        error_messages={"does_not_exist": "Unknown achievement code {value!r}."},
        help_text="The achievement's code.",
    )
    increment = StrictIntegerField(
        min_value=1,
        max_value=MAX_GOAL,
        required=False,
        help_text="Steps to add, 1 to the goal. Steps stop at the goal.",
    )
    steps = StrictIntegerField(
        min_value=0,
        max_value=MAX_GOAL,
        required=False,
        help_text="Steps to reach at least, 0 to the goal; never lowers them.",
    )

    def validate(self, attrs):
        given = [name for name in ("increment", "steps") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of `increment` and `steps`."]}
            )
        return attrs
