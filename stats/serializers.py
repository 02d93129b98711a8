"""Shapes of the stats answers, for the responses and the OpenAPI schema."""

from rest_framework import serializers

from achievements.serializers import AchievementSerializer
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


class SummarySerializer(serializers.Serializer):
    most_achievements = MostAchievementsSerializer()
    most_points = MostPointsSerializer()
    max_points_gap = PointsGapSerializer()
    min_points_gap = PointsGapSerializer()
    streaks = StreakPageSerializer()
