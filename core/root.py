"""`GET /api/v1/`: the API root, listing the top-level resources with their URLs."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class ApiRootView(APIView):
    """The top-level resources, by name. `resources` maps each name to its URL name, so a new
    resource is one more entry where the view is routed (achievements_site/urls.py)."""

    permission_classes = [permissions.AllowAny]
    http_method_names = ["get", "head", "options"]
    resources: dict[str, str] = {}

    @extend_schema(
        operation_id="api_root",
        summary="The API's top-level resources",
        description="Each resource's name with the absolute URL of its collection.",
        responses={
            200: {
                "type": "object",
                "additionalProperties": {"type": "string", "format": "uri"},
            }
        },
    )
    def get(self, request, *args, **kwargs):
        return Response(
            {name: reverse(url_name, request=request) for name, url_name in self.resources.items()}
        )
