"""`/api/v1/achievements/` (the catalog), `/api/v1/users/{username}/achievements/` (awards) and
`/api/v1/users/{username}/progress/` (progress toward incremental achievements) and
`/api/v1/activity/` (the feed of grants and revocations)."""

import contextlib

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from achievements.models import CODE_PATTERN, Achievement, Award
from achievements.selectors import (
    achievement_get,
    achievement_list,
    activity_after,
    award_page_for_username,
    progress_list_for_user,
)
from achievements.serializers import (
    AchievementSerializer,
    AchievementWriteSerializer,
    ActivityQuerySerializer,
    ActivitySerializer,
    AwardCreateSerializer,
    AwardRevokeSerializer,
    AwardSerializer,
    ProgressChangeSerializer,
    ProgressInputSerializer,
    ProgressSerializer,
    award_create_validated,
    award_representation,
    award_rows_representation,
)
from achievements.services.awards import award_grant, award_revoke
from achievements.services.catalog import (
    achievement_create,
    achievement_delete,
    achievement_update,
)
from achievements.services.progress import progress_increment, progress_set
from core.errors import error_responses
from core.languages import LANG_PARAMETER, LanguageMixin
from core.pagination import Pagination
from users.api import USER_NOT_FOUND, USERNAME_PARAMETER, user_or_404
from users.models import User
from users.selectors import user_get, user_get_brief

CODE_PARAMETER = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, pattern=CODE_PATTERN, description="The achievement's code."
)


def achievement_or_404(code: str) -> Achievement:
    """The achievement with this code, or a 404 that says so."""
    try:
        return achievement_get(code)
    except Achievement.DoesNotExist:
        raise exceptions.NotFound("No achievement with that code.") from None


@extend_schema_view(
    list=extend_schema(
        summary="List the catalog",
        parameters=[LANG_PARAMETER],
        responses={200: AchievementSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(
        summary="Get an achievement",
        parameters=[CODE_PARAMETER, LANG_PARAMETER],
        responses={200: AchievementSerializer, **error_responses(400, 404)},
    ),
    create=extend_schema(
        summary="Add an achievement",
        parameters=[LANG_PARAMETER],
        request=AchievementWriteSerializer,
        responses={201: AchievementSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change points, goal, visibility or texts",
        description="A points change moves every holder's total at once. The goal cannot "
        "change once anyone has progress toward the achievement or holds it (409).",
        parameters=[CODE_PARAMETER, LANG_PARAMETER],
        request=AchievementWriteSerializer,
        responses={200: AchievementSerializer, **error_responses(400, 401, 403, 404, 409)},
    ),
    destroy=extend_schema(
        summary="Remove an achievement nobody holds",
        parameters=[CODE_PARAMETER],
        responses={204: None, **error_responses(401, 403, 404, 409)},
    ),
)
class AchievementViewSet(
    LanguageMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The catalog of achievements, with `name` and `description` in the request's language."""

    queryset = Achievement.objects.all()
    serializer_class = AchievementSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return achievement_list()

    def get_object(self):
        achievement = achievement_or_404(self.kwargs["code"])
        self.check_object_permissions(self.request, achievement)
        return achievement

    def create(self, request, *args, **kwargs):
        given = AchievementWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        achievement = achievement_create(
            code=given.validated_data.get("code"),
            points=given.validated_data["points"],
            names=given.texts("name"),
            descriptions=given.texts("description"),
            by=request.user,
            **given.settings(),
        )
        return Response(self.get_serializer(achievement).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        achievement = self.get_object()
        given = AchievementWriteSerializer(achievement, data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        achievement = achievement_update(
            achievement=achievement,
            points=given.validated_data.get("points"),
            names=given.texts("name"),
            descriptions=given.texts("description"),
            by=request.user,
            **given.settings(),
        )
        return Response(self.get_serializer(achievement).data)

    def destroy(self, request, *args, **kwargs):
        # Deleting an awarded achievement raises AchievementInUse: a 409 (core.errors).
        achievement_delete(achievement=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class HolderLanguageMixin(LanguageMixin):
    """A view of one user's things (`username` in the URL), answered in that user's language
    whatever the request asks for; the user is `self.holder`."""

    def choose_language(self, request) -> str:
        if self.action is None:
            # A method this route does not have: let DRF answer 405 before any lookup.
            return super().choose_language(request)
        self.holder = user_or_404(self.kwargs["username"])
        return self.holder.language


@extend_schema_view(
    list=extend_schema(
        summary="A user's awards, newest first, in the user's language",
        description="`name` and `description` are in the user's own language "
        "(`Content-Language` says which), whatever the request asks for.",
        parameters=[USERNAME_PARAMETER],
        responses={200: AwardSerializer(many=True), **error_responses(404)},
    ),
    create=extend_schema(
        summary="Award an achievement",
        description="201 with the new award; 200 with the existing award, unchanged, when the "
        "user already holds it. Safe to retry.",
        parameters=[USERNAME_PARAMETER],
        request=AwardCreateSerializer,
        responses={
            201: AwardSerializer,
            200: AwardSerializer,
            **error_responses(400, 401, 403, 404),
        },
    ),
    destroy=extend_schema(
        summary="Revoke an award",
        description="An optional reason (at most 500 characters), in a JSON body "
        '`{"reason": "…"}` or as `?reason=`, goes into the activity entry.',
        request=AwardRevokeSerializer,
        parameters=[
            USERNAME_PARAMETER,
            CODE_PARAMETER,
            OpenApiParameter("reason", str, description="Why it was revoked."),
        ],
        responses={204: None, **error_responses(400, 401, 403, 404)},
    ),
)
class UserAwardViewSet(HolderLanguageMixin, viewsets.GenericViewSet):
    """A user's awards, always in the user's own language."""

    # The model permissions (add_award, delete_award) are read from this queryset, before the
    # user in the URL is looked up: a write without credentials is a 401 even for a bad name.
    queryset = Award.objects.all()
    serializer_class = AwardSerializer

    def choose_language(self, request) -> str:
        if self.action == "create":
            # A grant needs the holder's id, username and language only: one prepared
            # statement instead of a compiled query.
            try:
                self.holder = user_get_brief(self.kwargs["username"])
            except User.DoesNotExist:
                raise exceptions.NotFound(USER_NOT_FOUND) from None
            return self.holder.language
        if self.action != "list":
            return super().choose_language(request)
        # The hottest read: the holder's language, the count and the page come from one
        # statement (one snapshot), as plain rows; list() only shapes them.
        language = None

        def fetch(limit, offset):
            nonlocal language
            language, count, rows = award_page_for_username(
                self.kwargs["username"], limit=limit, offset=offset
            )
            return count, rows

        try:
            self.page_rows = self.paginator.paginate_counted(request, fetch)
        except User.DoesNotExist:
            raise exceptions.NotFound(USER_NOT_FOUND) from None
        return language

    def list(self, request, *args, **kwargs):
        # award_rows_representation keeps the JSON identical to AwardSerializer's.
        return self.get_paginated_response(award_rows_representation(self.page_rows))

    def create(self, request, *args, **kwargs):
        achievement, awarded_at = award_create_validated(request.data)
        try:
            award, created = award_grant(
                user=self.holder, achievement=achievement, awarded_at=awarded_at, by=request.user
            )
        except Achievement.DoesNotExist:
            # Deleted between validation and the grant.
            raise exceptions.ValidationError(
                {"achievement": [f"Unknown achievement code {achievement.code!r}."]}
            ) from None
        except User.DoesNotExist:
            raise exceptions.NotFound(USER_NOT_FOUND) from None
        return Response(
            award_representation(award),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def destroy(self, request, *args, **kwargs):
        given = AwardRevokeSerializer(
            data=request.data if request.data else request.query_params.dict()
        )
        given.is_valid(raise_exception=True)
        achievement = achievement_or_404(kwargs["code"])
        try:
            award_revoke(
                user=self.holder,
                achievement=achievement,
                by=request.user,
                reason=given.validated_data.get("reason"),
            )
        except Award.DoesNotExist:
            raise exceptions.NotFound(
                f"{self.holder.username} does not hold {achievement.code}."
            ) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityPermission(permissions.BasePermission):
    """Reading the feed needs credentials with the view permission on activity."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return user.has_perm("achievements.view_activity")


class ActivityView(APIView):
    """`/api/v1/activity/`: every grant and revocation, oldest first, after a cursor."""

    permission_classes = [ActivityPermission]

    @extend_schema(
        summary="Read the activity feed",
        description="Entries with ids above `after`, oldest first. `next` is this query with "
        "`after` set to the last id returned (unchanged when nothing was), so polling `next` "
        "reads every entry exactly once, even while writes go on.",
        parameters=[
            OpenApiParameter("after", int, description="Return entries after this id (0)."),
            OpenApiParameter("limit", int, description="At most this many (50; 1000 at most)."),
            OpenApiParameter("user", str, description="Only this user's entries."),
        ],
        responses={
            200: inline_serializer(
                "ActivityPage",
                {
                    "results": ActivitySerializer(many=True),
                    "next": serializers.URLField(),
                },
            ),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request):
        query = ActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        username = query.validated_data.get("user")
        if username is not None:
            # Usernames match in any case; the feed stores each user's own spelling.
            with contextlib.suppress(User.DoesNotExist):
                username = user_get(username).username
        limit = Pagination().get_limit(request)
        entries = activity_after(after=after, limit=limit, username=username)
        last = entries[-1].id if entries else after
        return Response(
            {
                "results": ActivitySerializer(entries, many=True).data,
                "next": replace_query_param(request.build_absolute_uri(), "after", last),
            }
        )


@extend_schema_view(
    list=extend_schema(
        summary="A user's progress, most recently changed first, in the user's language",
        description="Every achievement the user has steps toward or holds. Hidden achievements "
        "the user does not hold show locked texts to requests without credentials.",
        parameters=[USERNAME_PARAMETER],
        responses={200: ProgressSerializer(many=True), **error_responses(404)},
    ),
    create=extend_schema(
        summary="Add steps toward an achievement, or set them",
        description="Exactly one of `increment` (adds) and `steps` (sets at least, never "
        "lowers). Steps stop at the goal, and reaching it grants the award in the same "
        "transaction (`unlocked_now`). On an achievement the user already holds, nothing "
        "changes.",
        parameters=[USERNAME_PARAMETER],
        request=ProgressInputSerializer,
        responses={200: ProgressChangeSerializer, **error_responses(400, 401, 403, 404)},
    ),
)
class UserProgressViewSet(HolderLanguageMixin, viewsets.GenericViewSet):
    """A user's progress toward achievements, always in the user's own language."""

    # Changing progress may grant an award, so it needs the permission to add awards (read
    # from this queryset before the user in the URL is looked up, as for awards).
    queryset = Award.objects.all()
    serializer_class = ProgressSerializer

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(progress_list_for_user(self.holder))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request, *args, **kwargs):
        given = ProgressInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        achievement = given.validated_data["achievement"]
        try:
            if "increment" in given.validated_data:
                progress, unlocked_now = progress_increment(
                    user=self.holder,
                    achievement=achievement,
                    increment=given.validated_data["increment"],
                    by=request.user,
                )
            else:
                progress, unlocked_now = progress_set(
                    user=self.holder,
                    achievement=achievement,
                    steps=given.validated_data["steps"],
                    by=request.user,
                )
        except Achievement.DoesNotExist:
            raise exceptions.ValidationError(
                {"achievement": [f"Unknown achievement code {achievement.code!r}."]}
            ) from None
        except User.DoesNotExist:
            raise exceptions.NotFound(USER_NOT_FOUND) from None
        progress.unlocked = Award.objects.filter(user=self.holder, achievement=achievement).exists()
        progress.unlocked_now = unlocked_now
        return Response(
            ProgressChangeSerializer(progress, context=self.get_serializer_context()).data
        )
