"""What every API view shares: pagination, permissions, language choice, a 409."""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, permissions, serializers, status
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
                {
                    "lang": [
                        f"Unsupported language {requested!r}; use one of: "
                        f"{', '.join(LANGUAGE_CODES)}."
                    ]
                }
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


class StrictIntegerField(serializers.IntegerField):
    """An integer given as a JSON number: "5", 5.0 and true are refused, not coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text given as a JSON string: a number is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class LanguageMixin:
    """Serialize translated text in one language and say which in `Content-Language`.

    The language is `request_language()` unless a view overrides `choose_language` (a user's
    awards are always in that user's language).
    """

    response_language: str | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._previous_language = translation.get_language()
        self.response_language = self.choose_language(request)
        translation.activate(self.response_language)

    def choose_language(self, request) -> str:
        """The language of this response's translated text."""
        return request_language(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.response_language:
            response["Content-Language"] = self.response_language
            translation.activate(self._previous_language)
        # The body depends on these request headers: no cache may serve it across languages.
        patch_vary_headers(response, ["Accept-Language"])
        return response


def error_responses(*codes: int) -> dict:
    """OpenAPI descriptions of the error answers an operation can give."""
    described = {
        400: "Invalid input: `{field: [messages]}` or `{detail: message}`.",
        401: "No credentials, or a bad token.",
        403: "The credentials lack the permission for this write.",
        404: "Not found.",
        409: "Conflicts with the current state (e.g. deleting an awarded achievement).",
    }
    return {
        code: OpenApiResponse(response=OpenApiTypes.OBJECT, description=described[code])
        for code in codes
    }
