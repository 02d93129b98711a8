"""`/api/v1/users/`: register, list, read, change and remove users."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from achievements_site.api import error_responses
from users.collation import BinaryCollate
from users.models import User
from users.selectors import user_get, user_list
from users.serializers import UserCreateSerializer, UserSerializer, UserUpdateSerializer
from users.services import user_create, user_delete, user_update

ORDERING_FIELDS = ["points", "achievements_count", "username", "created_at"]


def _ordering(param: str | None) -> list:
    """ORDER BY terms for `?ordering=a,-b`; the username (code point order) breaks ties."""
    terms, seen = [], set()
    for raw in (param or "").split(","):
        name = raw.strip()
        if not name:
            continue
        field = name.removeprefix("-")
        if field not in ORDERING_FIELDS:
            raise exceptions.ValidationError(
                {"ordering": [f"Cannot order by {field!r}; use {', '.join(ORDERING_FIELDS)}."]}
            )
        if field in seen:
            continue
        seen.add(field)
        expression = BinaryCollate("username") if field == "username" else field
        descending = name.startswith("-")
        if isinstance(expression, str):
            terms.append(f"-{field}" if descending else field)
        else:
            terms.append(expression.desc() if descending else expression.asc())
    if "username" not in seen:
        terms.append(BinaryCollate("username").asc())
    return terms


@extend_schema_view(
    list=extend_schema(
        summary="List users",
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of the username."),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                description="Comma-separated of `points`, `achievements_count`, `username`, "
                "`created_at`; `-` for descending. Ties: username.",
            ),
        ],
        responses={200: UserSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(
        summary="Get a user", responses={200: UserSerializer, **error_responses(404)}
    ),
    create=extend_schema(
        summary="Register a user",
        request=UserCreateSerializer,
        responses={201: UserSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a user's language",
        request=UserUpdateSerializer,
        responses={200: UserSerializer, **error_responses(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Remove a user and their awards",
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = User.objects.all()
    serializer_class = UserSerializer
    lookup_field = "username"
    # Any character a username may hold, dots included.
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        users = user_list(search=self.request.query_params.get("search"))
        return users.order_by(*_ordering(self.request.query_params.get("ordering")))

    def get_object(self):
        try:
            user = user_get(self.kwargs["username"])
        except User.DoesNotExist:
            raise exceptions.NotFound("No user with that username.") from None
        self.check_object_permissions(self.request, user)
        return user

    def create(self, request, *args, **kwargs):
        given = UserCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = user_create(**given.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        user = self.get_object()
        given = UserUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        if given.validated_data:
            user = user_update(user=user, **given.validated_data)
        return Response(UserSerializer(user).data)

    def destroy(self, request, *args, **kwargs):
        user_delete(user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
