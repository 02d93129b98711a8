"""Request-wide middleware: request ids for the logs, a cap on request bodies, and an honest
503 when the database is down."""

import logging
import re
import uuid

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import JsonResponse

from core.errors import database_unavailable_response, is_database_unavailable
from core.logging import request_id_var

logger = logging.getLogger(__name__)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestIdMiddleware:
    """Use nginx's X-Request-ID (or make one), log with it, and echo it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Set until the response has been sent, not only while the middleware runs: Django logs
        # error responses ("django.request") after the middleware chain has returned, and those
        # lines belong to this request too. `request_finished` clears it.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


@receiver(request_finished)
def _forget_request_id(**kwargs) -> None:
    # Whatever this thread logs between requests belongs to none of them.
    request_id_var.set("-")


class RequestBodyLimitMiddleware:
    """Refuse a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with a JSON 413, unread.

    Django checks that limit only when it parses a form or reads `request.body`; the API's JSON
    parser reads the stream itself and would take a body of any size. nginx refuses the same
    size first (client_max_body_size); this holds when the app is served without it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django then reads no body at all
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"The request body is larger than the limit of {limit} bytes."},
                status=413,
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Turn a lost or unreachable database into a fast JSON 503 with Retry-After."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            logger.warning("database unavailable: %s", exception)
            return database_unavailable_response()
        return None
