"""Shapes of the stats answers, for the responses and the OpenAPI schema."""

from types import SimpleNamespace

from modeltranslation.translator import translator
from modeltranslation.utils import build_localized_fieldname, get_language, resolution_order
from rest_framework import serializers

from achievements.hidden import LOCKED_DESCRIPTION, LOCKED_NAME, texts_revealed
from achievements.models import Achievement
from achievements.serializers import AchievementSerializer
from core.fields import datetime_representer
from core.languages import language_codes
from stats.selectors import holders_percent


class UserBriefSerializer(serializers.Serializer):
    username = serializers.CharField()
    achievements_count = serializers.IntegerField()
    points = serializers.IntegerField()


class MostAchievementsSerializer(serializers.Serializer):
    achievements_count = serializers.IntegerField()
    users = UserBriefSerializer(many=True)


class MostPointsSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    users = UserBriefSerializer(many=True)


class PointsGapSerializer(serializers.Serializer):
    difference = serializers.IntegerField(allow_null=True)
    users = UserBriefSerializer(many=True)


class StreakSerializer(serializers.Serializer):
    username = serializers.CharField()
    longest_streak = serializers.IntegerField()
    streak_start = serializers.DateField()
    streak_end = serializers.DateField()


class StreakPageSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StreakSerializer(many=True)


class LeaderboardRowSerializer(UserBriefSerializer):
    rank = serializers.IntegerField()


class AchievementRaritySerializer(AchievementSerializer):
    holders = serializers.IntegerField(read_only=True)
    holders_percent = serializers.SerializerMethodField()

    class Meta(AchievementSerializer.Meta):
        fields = [*AchievementSerializer.Meta.fields, "holders", "holders_percent"]
        read_only_fields = fields

    def get_holders_percent(self, achievement) -> float:
        return holders_percent(achievement.holders, self.context["users"])


def achievement_rarity_rows(catalog: list[dict], *, credentials: bool) -> list[dict]:
    """What AchievementRaritySerializer gives for the entries of `selectors.achievement_rarity`,
    key for key, in its order, built directly: the serializer's per-field machinery and the
    model instances cost more than the rest of the request. Texts follow modeltranslation's
    rule (the active language, then its fallbacks; None and "" are missing);
    `tests/stats/test_rarity_rows.py` holds the two equal."""
    options = translator.get_options_for_model(Achievement)
    languages = resolution_order(get_language(), getattr(options, "fallback_languages", None))
    columns = [
        build_localized_fieldname(field, code)
        for field in ("name", "description")
        for code in language_codes()
    ]
    represent = datetime_representer()
    locked = {"name": str(LOCKED_NAME), "description": str(LOCKED_DESCRIPTION)}
    rows = []
    for entry in catalog:
        revealed = texts_revealed(SimpleNamespace(hidden=entry["hidden"]), credentials=credentials)
        row = {
            "code": entry["code"],
            "points": entry["points"],
            "goal": entry["goal"],
            "hidden": entry["hidden"],
            "rule": None
            if entry["rule_event"] is None
            else {"event": entry["rule_event"], "measure": entry["rule_measure"]},
        }
        for field in ("name", "description"):
            row[field] = _translated(entry, field, languages) if revealed else locked[field]
        for column in columns:
            row[column] = entry[column] if revealed else None
        row["created_at"] = represent(entry["created_at"])
        row["holders"] = entry["holders"]
        row["holders_percent"] = holders_percent(entry["holders"], entry["users"])
        rows.append(row)
    return rows


def _translated(entry: dict, field: str, languages: tuple[str, ...]) -> str:
    for code in languages:
        value = entry[build_localized_fieldname(field, code)]
        if value is not None and value != "":
            return value
    return ""


class SummarySerializer(serializers.Serializer):
    most_achievements = MostAchievementsSerializer()
    most_points = MostPointsSerializer()
    max_points_gap = PointsGapSerializer()
    min_points_gap = PointsGapSerializer()
    streaks = StreakPageSerializer()
