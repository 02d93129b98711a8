"""`/api/v1/users/`: register, list, read, change and remove users."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from core.errors import error_responses
from core.filters import OrderingFilter, SearchFilter
from users.models import USERNAME_PATTERN, User
from users.selectors import user_get, user_list
from users.serializers import UserCreateSerializer, UserSerializer, UserUpdateSerializer
from users.services import user_create, user_delete, user_update

USER_NOT_FOUND = "No user with that username."

USERNAME_PARAMETER = OpenApiParameter(
    "username",
    str,
    OpenApiParameter.PATH,
    pattern=USERNAME_PATTERN,
    description="The user's username, in any case.",
)


def user_or_404(username: str) -> User:
    """The user with this username in any case, or a 404 that says so."""
    try:
        return user_get(username)
    except User.DoesNotExist:
        raise exceptions.NotFound(USER_NOT_FOUND) from None


@extend_schema_view(
    list=extend_schema(
        summary="List users",
        responses={200: UserSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(
        summary="Get a user",
        parameters=[USERNAME_PARAMETER],
        responses={200: UserSerializer, **error_responses(404)},
    ),
    create=extend_schema(
        summary="Register a user",
        request=UserCreateSerializer,
        responses={201: UserSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a user's language or time zone",
        parameters=[USERNAME_PARAMETER],
        request=UserUpdateSerializer,
        responses={200: UserSerializer, **error_responses(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Remove a user and their awards",
        parameters=[USERNAME_PARAMETER],
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
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["username"]
    ordering_fields = ["points", "achievements_count", "username", "created_at"]
    # Usernames order by code point on every database, and break every tie.
    collated_fields = ["username"]
    tie_breaker = "username"

    def get_queryset(self):
        return user_list()

    def get_object(self):
        user = user_or_404(self.kwargs["username"])
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
