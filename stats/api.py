"""`/api/v1/stats/...`: read-only answers, exact at every moment, public."""

import re

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from achievements_site.api import LANG_PARAMETER, LanguageMixin, Pagination, error_responses
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

DAYS_PARAMETER = OpenApiParameter(
    "days",
    OpenApiTypes.INT,
    description=f"Consecutive calendar days ({selectors.MIN_STREAK_DAYS} to "
    f"{selectors.MAX_STREAK_DAYS}, default {selectors.DEFAULT_STREAK_DAYS}), in TIME_ZONE.",
)


def _days(request) -> int:
    raw = request.query_params.get("days")
    if raw is None:
        return selectors.DEFAULT_STREAK_DAYS
    low, high = selectors.MIN_STREAK_DAYS, selectors.MAX_STREAK_DAYS
    if not re.fullmatch(r"\d{1,5}", raw) or not low <= int(raw) <= high:
        raise exceptions.ValidationError(
            {"days": [f"Give a whole number of days from {low} to {high}."]}
        )
    return int(raw)


class StatsView(APIView):
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


class StreaksView(StatsView):
    @extend_schema(
        summary="Users with awards on N consecutive days",
        parameters=[DAYS_PARAMETER],
        responses={200: StreakSerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.streaks_at_least(_days(request)), request)
        return paginator.get_paginated_response(StreakSerializer(page, many=True).data)


class LeaderboardView(StatsView):
    @extend_schema(
        summary="Users ranked by points or achievements",
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=list(selectors.LEADERBOARD_FIGURES))
        ],
        responses={200: LeaderboardRowSerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        by = request.query_params.get("by", "points")
        if by not in selectors.LEADERBOARD_FIGURES:
            raise exceptions.ValidationError(
                {"by": [f"Rank by one of: {', '.join(selectors.LEADERBOARD_FIGURES)}."]}
            )
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.leaderboard(by), request)
        ranked = selectors.leaderboard_ranked(page, by, paginator.offset)
        return paginator.get_paginated_response(LeaderboardRowSerializer(ranked, many=True).data)


class AchievementStatsView(LanguageMixin, StatsView):
    @extend_schema(
        summary="How many users hold each achievement, rarest first",
        parameters=[LANG_PARAMETER],
        responses={200: AchievementRaritySerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.achievement_rarity(), request)
        context = {"users": User.objects.count()}
        data = AchievementRaritySerializer(page, many=True, context=context).data
        return paginator.get_paginated_response(data)


class SummaryView(StatsView):
    @extend_schema(
        summary="All five answers at once",
        description="The four user stats and the first page of streaks (`days`, default 7).",
        parameters=[DAYS_PARAMETER],
        responses={200: SummarySerializer, **error_responses(400)},
    )
    def get(self, request):
        days = _days(request)
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
