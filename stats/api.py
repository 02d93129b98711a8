"""`/api/v1/stats/...`: read-only answers, exact at every moment, public."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import error_responses
from core.fields import DigitsField
from core.languages import LANG_PARAMETER, LanguageMixin
from core.pagination import Pagination
from stats import selectors
from stats.serializers import (
    AchievementRaritySerializer,
    LeaderboardRowSerializer,
    MostAchievementsSerializer,
    MostPointsSerializer,
    PointsGapSerializer,
    StreakSerializer,
    SummarySerializer,
)
from users.models import User


class StreaksQuery(serializers.Serializer):
    days = DigitsField(
        min_value=selectors.MIN_STREAK_DAYS,
        max_value=selectors.MAX_STREAK_DAYS,
        default=selectors.DEFAULT_STREAK_DAYS,
        help_text="Consecutive calendar days, counted in the service's TIME_ZONE.",
    )


class LeaderboardQuery(serializers.Serializer):
    by = serializers.ChoiceField(choices=list(selectors.LEADERBOARD_FIGURES), default="points")


def _query(serializer_class, request) -> dict:
    # A plain dict, not the QueryDict: DRF would read `?days=` (empty) as "not given".
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


class StatsView(APIView):
    permission_classes = [permissions.AllowAny]
    http_method_names = ["get", "head", "options"]


class StatsListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    http_method_names = ["get", "head", "options"]


class MostAchievementsView(StatsView):
    @extend_schema(summary="Users with the most achievements", responses=MostAchievementsSerializer)
    def get(self, request):
        return Response(selectors.most_achievements())


class MostPointsView(StatsView):
    @extend_schema(summary="Users with the most points", responses=MostPointsSerializer)
    def get(self, request):
        return Response(selectors.most_points())


class MaxPointsGapView(StatsView):
    @extend_schema(
        summary="The largest points difference: top user and bottom user",
        responses=PointsGapSerializer,
    )
    def get(self, request):
        return Response(selectors.max_points_gap())


class MinPointsGapView(StatsView):
    @extend_schema(
        summary="The smallest points difference between neighbours by points",
        responses=PointsGapSerializer,
    )
    def get(self, request):
        return Response(selectors.min_points_gap())


class StreaksView(StatsListView):
    serializer_class = StreakSerializer

    @extend_schema(
        summary="Users with awards on N consecutive days",
        parameters=[StreaksQuery],
        responses={200: StreakSerializer(many=True), **error_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.streaks_at_least(_query(StreaksQuery, self.request)["days"])


class LeaderboardView(StatsListView):
    serializer_class = LeaderboardRowSerializer

    @extend_schema(
        summary="Users ranked by points or achievements",
        parameters=[LeaderboardQuery],
        responses={200: LeaderboardRowSerializer(many=True), **error_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        by = _query(LeaderboardQuery, request)["by"]
        page = self.paginate_queryset(selectors.leaderboard(by))
        ranked = selectors.leaderboard_ranked(page, by, self.paginator.offset)
        return self.get_paginated_response(self.get_serializer(ranked, many=True).data)


class AchievementStatsView(LanguageMixin, StatsListView):
    serializer_class = AchievementRaritySerializer

    @extend_schema(
        summary="How many users hold each achievement, rarest first",
        parameters=[LANG_PARAMETER],
        responses={200: AchievementRaritySerializer(many=True), **error_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.achievement_catalog()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "users": User.objects.count()}


class SummaryView(StatsView):
    @extend_schema(
        summary="All five answers at once",
        description="The four user stats and the first page of streaks (`days`, default 7).",
        parameters=[StreaksQuery],
        responses={200: SummarySerializer, **error_responses(400)},
    )
    def get(self, request):
        days = _query(StreaksQuery, request)["days"]
        streaks = selectors.streaks_at_least(days)
        limit = Pagination.default_limit
        first_page = list(streaks[: limit + 1])
        more = len(first_page) > limit
        streaks_url = request.build_absolute_uri(reverse("stats-streaks"))
        return Response(
            {
                "most_achievements": selectors.most_achievements(),
                "most_points": selectors.most_points(),
                "max_points_gap": selectors.max_points_gap(),
                "min_points_gap": selectors.min_points_gap(),
                "streaks": {
                    "days": days,
                    "count": streaks.count() if more else len(first_page),
                    "next": f"{streaks_url}?days={days}&limit={limit}&offset={limit}"
                    if more
                    else None,
                    "previous": None,
                    "results": StreakSerializer(first_page[:limit], many=True).data,
                },
            }
        )
