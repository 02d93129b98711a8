"""`/api/v1/webhooks/`: an account's webhook endpoints and their delivery logs."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import error_responses
from webhooks.models import Endpoint
from webhooks.selectors import delivery_list_for_endpoint, endpoint_list_for_owner
from webhooks.serializers import (
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointSerializer,
    EndpointWriteSerializer,
)
from webhooks.services import endpoint_create, endpoint_delete, endpoint_update


class WebhookPermissions(permissions.DjangoModelPermissions):
    """Credentials with the webhooks app's model permissions, reading included."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


def _validation(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict)


@extend_schema_view(
    list=extend_schema(
        summary="List your webhook endpoints",
        responses={200: EndpointSerializer(many=True), **error_responses(401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        responses={200: EndpointSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description="201 with the endpoint and its signing `secret`, shown only here.",
        request=EndpointWriteSerializer,
        responses={201: EndpointCreatedSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint's URL, events or active flag",
        request=EndpointWriteSerializer,
        responses={200: EndpointSerializer, **error_responses(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Remove a webhook endpoint",
        responses={204: None, **error_responses(401, 403, 404)},
    ),
    deliveries=extend_schema(
        summary="An endpoint's deliveries, newest first",
        responses={200: DeliverySerializer(many=True), **error_responses(401, 403, 404)},
    ),
)
class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The calling account's own endpoints: another account's are not found."""

    queryset = Endpoint.objects.all()
    serializer_class = EndpointSerializer
    permission_classes = [WebhookPermissions]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return endpoint_list_for_owner(self.request.user)

    def create(self, request, *args, **kwargs):
        given = EndpointWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            endpoint = endpoint_create(
                owner=request.user,
                url=given.validated_data["url"],
                events=given.validated_data.get("events"),
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from None
        if "active" in given.validated_data and not given.validated_data["active"]:
            endpoint = endpoint_update(endpoint=endpoint, active=False)
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        given = EndpointWriteSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        try:
            endpoint = endpoint_update(
                endpoint=endpoint,
                url=given.validated_data.get("url"),
                events=given.validated_data.get("events"),
                active=given.validated_data.get("active"),
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from None
        return Response(EndpointSerializer(endpoint).data)

    def destroy(self, request, *args, **kwargs):
        endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        page = self.paginate_queryset(delivery_list_for_endpoint(self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)
