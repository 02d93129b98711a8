"""Liveness and readiness probes for the orchestrator and nginx."""

import logging
import uuid

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.errors import DATABASE_RETRY_AFTER, database_unavailable_response

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 while the process can serve requests; never touches the database."""
    return JsonResponse({"status": "ok"})


def _cache_answers() -> bool:
    # Throttling and the failed-authentication limit count in this cache: without it, limits
    # would silently stop holding, so the instance is not ready.
    probe = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, 1, timeout=5)
        answered = cache.get(probe) == 1
        cache.delete(probe)
    except Exception:  # every cache backend raises its own errors
        logger.warning("cache unavailable", exc_info=True)
        return False
    return answered


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and the cache both answer; 503 naming what does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return database_unavailable_response()
    if not _cache_answers():
        response = JsonResponse(
            {"detail": "The cache is temporarily unavailable; retry shortly."}, status=503
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    return JsonResponse({"status": "ready"})
