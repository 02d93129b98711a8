"""`/api/v1/stats/...`: read-only answers, exact at every moment, public."""

import re
from datetime import date

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from achievements.hidden import request_has_credentials
from core.errors import error_responses
from core.fields import DigitsField, StrictCharField
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
    achievement_rarity_rows,
)
from users.models import USERNAME_MAX_LENGTH, USERNAME_REGEX, User
from users.selectors import user_get


class StreaksQuery(serializers.Serializer):
    days = DigitsField(
        min_value=selectors.MIN_STREAK_DAYS,
        max_value=selectors.MAX_STREAK_DAYS,
        default=selectors.DEFAULT_STREAK_DAYS,
        help_text="Consecutive calendar days, counted in the service's TIME_ZONE.",
    )


# A cursor: a figure (a 64-bit integer) and a username, joined by a dot.
FIGURE_MIN, FIGURE_MAX = -(2**63), 2**63 - 1
CURSOR_MAX_LENGTH = 20 + 1 + USERNAME_MAX_LENGTH

# Any day a period can be asked about; earlier ones hold no awards, later ones overflow.
EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(9999, 12, 31)


@extend_schema_field(OpenApiTypes.DATE)
class DateParameterField(serializers.Field):
    """A calendar day written YYYY-MM-DD, between 1970-01-01 and 9999-12-31."""

    default_error_messages = {
        "invalid": "Enter a date as YYYY-MM-DD.",
        "range": f"Enter a date between {EARLIEST_DATE} and {LATEST_DATE}.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", data):
            self.fail("invalid")
        try:
            day = date.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            self.fail("range")
        return day

    def to_representation(self, value):
        return value.isoformat()


class LeaderboardQuery(serializers.Serializer):
    by = serializers.ChoiceField(choices=list(selectors.LEADERBOARD_FIGURES), default="points")
    period = serializers.ChoiceField(
        choices=list(selectors.PERIODS),
        default="all",
        help_text="all, or the day, week (from Monday), month or year containing `date`.",
    )
    date = DateParameterField(
        required=False, help_text="YYYY-MM-DD in the service's TIME_ZONE; default today."
    )
    around = StrictCharField(
        required=False,
        max_length=USERNAME_MAX_LENGTH,
        trim_whitespace=False,
        help_text="A username: the slice of the board with that user in the middle.",
    )

    after = StrictCharField(
        required=False,
        max_length=CURSOR_MAX_LENGTH,
        trim_whitespace=False,
        help_text=(
            "A cursor `<figure>.<username>` (what `next` links carry): the rows that follow "
            "that place in the ranking. Any depth costs the same; `offset` is then ignored."
        ),
    )

    def validate_around(self, value):
        if not re.fullmatch(USERNAME_REGEX, value):
            raise serializers.ValidationError("Enter a username.")
        return value

    def validate_after(self, value):
        match = re.fullmatch(r"(-?[0-9]{1,19})\.(.+)", value, flags=re.ASCII | re.DOTALL)
        if (
            match is None
            or not FIGURE_MIN <= int(match[1]) <= FIGURE_MAX
            or len(match[2]) > USERNAME_MAX_LENGTH
            or not re.fullmatch(USERNAME_REGEX, match[2])
        ):
            raise serializers.ValidationError(
                "Enter a cursor as <figure>.<username>, as the `next` links give it."
            )
        return int(match[1]), match[2]

    def validate(self, attrs):
        if "after" in attrs and "around" in attrs:
            raise serializers.ValidationError({"after": ["Give `after` or `around`, not both."]})
        return attrs


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
        summary="Users ranked by points or achievements, all time or over a period",
        description=(
            "With `around=<username>`: the `limit` rows with that user in the middle, and "
            "`rank`, the user's rank (null, with no results, when they are not on the board)."
        ),
        parameters=[LeaderboardQuery],
        responses={
            200: inline_serializer(
                "LeaderboardPage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "rank": serializers.IntegerField(
                        allow_null=True, required=False, help_text="Only with `around`."
                    ),
                    "results": LeaderboardRowSerializer(many=True),
                },
            ),
            **error_responses(400, 404),
        },
    )
    def get(self, request, *args, **kwargs):
        query = _query(LeaderboardQuery, request)
        by, period = query["by"], query["period"]
        board = selectors.leaderboard(by, period, query.get("date") or timezone.localdate())
        if "around" in query:
            return self._around(board, by, query["around"])
        if "after" in query:
            return self._after(board, by, *query["after"])
        ranked = self.paginator.paginate_counted(
            request, lambda limit, offset: selectors.leaderboard_page(board, by, offset, limit)
        )
        # The rows are already the JSON shape (LeaderboardRowSerializer's, for the schema).
        response = self.get_paginated_response(ranked)
        if response.data["next"]:
            # Following pages by cursor: the same rows as the next offset, at any depth.
            limit = self.paginator.limit
            response.data["next"] = _after_url(self.request, limit, ranked[-1], by)
        return response

    def _after(self, board, by: str, value: int, name: str) -> Response:
        limit = self.paginator.get_limit(self.request)
        page = selectors.leaderboard_after(board, by, value, name, limit)
        url = self.request.build_absolute_uri()
        previous_limit = min(limit, page.offset)
        return Response(
            {
                "count": page.count,
                "next": _after_url(self.request, limit, page.rows[-1], by) if page.more else None,
                "previous": _page_url(url, previous_limit, page.offset - previous_limit)
                if previous_limit
                else None,
                "results": page.rows,
            }
        )

    def _around(self, board, by: str, username: str) -> Response:
        try:
            user = user_get(username)
        except User.DoesNotExist:
            raise exceptions.NotFound("No user with that username.") from None
        limit = self.paginator.get_limit(self.request)
        around = selectors.leaderboard_around(board, by, user, limit)
        end = around.offset + len(around.rows)
        # next/previous page on from the slice, without `around`, as the plain board pages.
        url = self.request.build_absolute_uri()
        previous_limit = min(limit, around.offset)
        return Response(
            {
                "count": around.count,
                "next": _after_url(self.request, limit, around.rows[-1], by)
                if end < around.count
                else None,
                "previous": _page_url(url, previous_limit, around.offset - previous_limit)
                if previous_limit
                else None,
                "rank": around.rank,
                "results": around.rows,
            }
        )


def _page_url(url: str, limit: int, offset: int) -> str:
    without_cursors = remove_query_param(remove_query_param(url, "around"), "after")
    return replace_query_param(
        replace_query_param(without_cursors, "limit", limit), "offset", offset
    )


def _after_url(request, limit: int, last_row: dict, by: str) -> str:
    """The link to the rows after `last_row`, by cursor (no `offset`, no `around`)."""
    url = request.build_absolute_uri()
    for name in ("around", "offset"):
        url = remove_query_param(url, name)
    cursor = f"{last_row[selectors.LEADERBOARD_FIGURES[by]]}.{last_row['username']}"
    return replace_query_param(replace_query_param(url, "limit", limit), "after", cursor)


class AchievementStatsView(LanguageMixin, StatsListView):
    serializer_class = AchievementRaritySerializer

    @extend_schema(
        summary="How many users hold each achievement, rarest first",
        parameters=[LANG_PARAMETER],
        responses={200: AchievementRaritySerializer(many=True), **error_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(selectors.achievement_rarity())
        rows = achievement_rarity_rows(page, credentials=request_has_credentials(request))
        return self.get_paginated_response(rows)


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
