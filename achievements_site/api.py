"""What every API view shares: pagination, permissions, language choice, a 409."""

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, permissions, status
from rest_framework.pagination import LimitOffsetPagination

LANGUAGE_CODES = [code for code, _ in settings.LANGUAGES]


class Pagination(LimitOffsetPagination):
    """`limit`/`offset` pages: 50 by default, 1000 at most (larger limits are capped)."""

    default_limit = 50
    max_limit = 1000


class ModelPermissionsOrReadOnly(permissions.DjangoModelPermissionsOrAnonReadOnly):
    """Anyone may read; a write needs the Django model permission for what it changes."""

    # Unlike DRF's default, reading needs no permission even when authenticated.
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [],
        "HEAD": [],
        "OPTIONS": [],
    }


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


LANG_PARAMETER = OpenApiParameter(
    "lang",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=LANGUAGE_CODES,
    description="Language of `name` and `description`; wins over `Accept-Language`. "
    "Default: English.",
)


def request_language(request) -> str:
    """The language to answer in: `?lang=`, then `Accept-Language`, then English.

    Raises a 400 naming the parameter when `?lang=` is not a configured language.
    """
    requested = request.query_params.get("lang")
    if requested is not None:
        if requested not in LANGUAGE_CODES:
            raise exceptions.ValidationError(
                {"lang": [f"Unsupported language {requested!r}; use one of: "
                          f"{', '.join(LANGUAGE_CODES)}."]}
            )
        return requested
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
