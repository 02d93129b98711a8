"""`/metrics` in Prometheus' text format (django-prometheus), for the monitoring network only:
a client address in METRICS_ALLOWED_IPS, or `Authorization: Bearer <METRICS_TOKEN>`."""

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView

from core.throttling import client_address

logger = logging.getLogger(__name__)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS]


def metrics_allowed(request: HttpRequest) -> bool:
    """True when the client's address is in METRICS_ALLOWED_IPS (addresses or networks) or it
    sends the bearer token METRICS_TOKEN (when one is set)."""
    token = settings.METRICS_TOKEN
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The process's (or, with PROMETHEUS_MULTIPROC_DIR, every worker's) metrics."""
    if not metrics_allowed(request):
        logger.warning("metrics refused to %s", client_address(request))
        return JsonResponse({"detail": "Metrics are not available to this client."}, status=403)
    return ExportToDjangoView(request)
