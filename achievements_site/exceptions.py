"""The API's error handler: every failure becomes a 4xx or 503 in DRF's error shape."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import ProtectedError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from achievements_site.api import Conflict
from achievements_site.middleware import DATABASE_RETRY_AFTER, is_database_unavailable

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler, plus domain errors: Django validation and unstorable values → 400,
    protected delete → 409, unreachable database → 503 with Retry-After."""
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
    elif isinstance(exc, ProtectedError):
        exc = Conflict("This object is still referenced and cannot be deleted.")
    elif is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is temporarily unavailable; retry shortly."},
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    return drf_exception_handler(exc, context)
