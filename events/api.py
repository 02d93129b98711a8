"""`/api/v1/events/` (send what users did) and `/api/v1/users/{username}/events/` (measures)."""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import error_responses
from events.selectors import measure_list_for_user
from events.serializers import (
    EventBatchResultSerializer,
    EventBatchSerializer,
    EventSerializer,
    MeasureSerializer,
)
from events.services import EVENTS_PER_CALL, events_record
from users.api import USERNAME_PARAMETER, user_or_404

BODY_SHAPE = 'Send one event object, or {"events": [event, ...]} with 1 to 1000 events.'


class CanSendEvents(permissions.BasePermission):
    """Sending events may grant awards, so it needs the permission to add them."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("achievements.add_award"))


def _events_of(data: object) -> list:
    """The events a request body carries; a 400 for a body that is not one event or a batch."""
    if isinstance(data, list):
        events = data
    elif isinstance(data, dict) and "events" in data:
        events = data["events"]
        if not isinstance(events, list):
            raise exceptions.ValidationError({"events": ["Give a list of events."]})
    elif isinstance(data, dict) and data:
        return [data]
    else:
        raise exceptions.ParseError(BODY_SHAPE)
    if not events:
        raise exceptions.ValidationError({"events": ["Send at least one event."]})
    if len(events) > EVENTS_PER_CALL:
        raise exceptions.ValidationError(
            {"events": [f"Send at most {EVENTS_PER_CALL} events per request ({len(events)} sent)."]}
        )
    return events


class EventView(APIView):
    """Integrations send what users did; rules turn it into progress and awards."""

    permission_classes = [CanSendEvents]

    @extend_schema(
        summary="Send events",
        description='One event, or `{"events": [...]}` with 1 to 1000. Each event stands alone: '
        "the results say, in request order, which were accepted, which were duplicates of ids "
        "accepted before (nothing changes), and which were rejected (with their errors).",
        request=PolymorphicProxySerializer(
            component_name="EventOrBatch",
            serializers=[EventSerializer, EventBatchSerializer],
            resource_type_field_name=None,
        ),
        responses={200: EventBatchResultSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request, *args, **kwargs):
        results = events_record(events=_events_of(request.data), by=request.user)
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        body = []
        for result in results:
            counts[result.status] += 1
            item = {"id": result.id, "status": result.status}
            if result.errors:
                item["errors"] = result.errors
            item["unlocked"] = result.unlocked
            body.append(item)
        return Response(
            {
                "accepted": counts["accepted"],
                "duplicates": counts["duplicate"],
                "rejected": counts["rejected"],
                "results": body,
            }
        )


@extend_schema(
    summary="A user's measures per event type",
    description="Count, sum of values, distinct days, longest run of consecutive days and the "
    "latest occurrence of the user's events of each type, by type.",
    parameters=[USERNAME_PARAMETER],
    responses={200: MeasureSerializer(many=True), **error_responses(404)},
)
class UserMeasureListView(generics.ListAPIView):
    """The measures rules read, for one user."""

    serializer_class = MeasureSerializer
    # Read-only; model permissions would look the user up twice.
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        return measure_list_for_user(user_or_404(self.kwargs["username"]))
