"""Every failure the API can report, in DRF's error shape: domain errors become 4xx, an
unreachable database a 503 with Retry-After (the one 503 body, shared with the middleware)."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER = 5
DATABASE_UNAVAILABLE = "The database is temporarily unavailable; retry shortly."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class DomainConflict(Exception):
    """A write the current state forbids (e.g. deleting an awarded achievement). Services raise
    subclasses with a message for people; the API answers 409 with that message."""


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot answer now", not "the query was wrong".

    OperationalError covers lost connections, refused connections, timeouts, deadlocks and
    SQLite's locked file: in every case the same request may succeed if retried.
    """
    return isinstance(exc, OperationalError | InterfaceError)


def database_unavailable_response() -> JsonResponse:
    """The 503 every layer returns when the database cannot answer."""
    response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def exception_handler(exc, context):
    """DRF's handler, plus domain errors: Django validation and unstorable values → 400,
    conflicts → 409, unreachable database → 503 with Retry-After."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    elif isinstance(exc, ObjectDoesNotExist):
        # Something the request names vanished mid-request (a concurrent delete).
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DataError):
        # The database refused a value it cannot store or compare (PostgreSQL text cannot hold
        # a NUL character): the input is bad, the server is fine.
        exc = exceptions.ParseError(
            "The request holds a value the database cannot store, such as a NUL character."
        )
    elif isinstance(exc, DomainConflict):
        exc = Conflict(str(exc))
    elif is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        return database_unavailable_response()
    return drf_exception_handler(exc, context)


_DESCRIBED = {
    400: "Invalid input: `{field: [messages]}` or `{detail: message}`.",
    401: "No credentials, or a bad token.",
    403: "The credentials lack the permission for this write.",
    404: "Not found.",
    409: "Conflicts with the current state (e.g. deleting an awarded achievement), or the "
    "first request with this Idempotency-Key is still running.",
    422: "This Idempotency-Key was already used for a different request.",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI descriptions of the error answers an operation can give."""
    return {
        code: OpenApiResponse(response=OpenApiTypes.OBJECT, description=_DESCRIBED[code])
        for code in codes
    }
