"""The site's URLs plus the floor of this machine: the least a DRF view and a Django view cost
through the same middleware, under /api/ like the API."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from achievements_site.urls import urlpatterns as site_urlpatterns

BODY = {"count": 1, "next": None, "previous": None, "results": [{"achievement": "floor"}]}


class DrfFloor(APIView):
    """A DRF view with no authentication, permission or throttle: DRF's own cost."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def get(self, request):
        return Response(BODY)


def django_floor(request):
    """A plain Django view: the framework and middleware alone."""
    return JsonResponse(BODY)


urlpatterns = [
    path("api/v1/bench-floor/drf/", DrfFloor.as_view()),
    path("api/v1/bench-floor/django/", django_floor),
    *site_urlpatterns,
]
