"""The one language chooser, used by the API and the pages alike.

The configured languages come from `settings.LANGUAGES` and nowhere else: adding a language is
a settings change plus `makemigrations` (for the translated columns).
"""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions


def language_codes() -> list[str]:
    """The configured language codes, the default (fallback) language first."""
    codes = [code for code, _name in settings.LANGUAGES]
    return sorted(codes, key=lambda code: code != settings.LANGUAGE_CODE)


class UnsupportedLanguage(exceptions.ValidationError):
    """`?lang=` names a language that is not configured."""

    def __init__(self, requested: str):
        super().__init__(
            {
                "lang": [
                    f"Unsupported language {requested!r}; use one of: "
                    f"{', '.join(language_codes())}."
                ]
            }
        )


def request_language(request, *, strict: bool = True) -> str:
    """The language to answer in: `?lang=`, then the language cookie and `Accept-Language`
    (Django's own negotiation), then the default language.

    An unknown `?lang=` raises UnsupportedLanguage when `strict` (the API answers 400) and is
    ignored otherwise (a page has no 400 to show).
    """
    requested = request.GET.get("lang")
    if requested is not None:
        if requested in language_codes():
            return requested
        if strict:
            raise UnsupportedLanguage(requested)
    return translation.get_language_from_request(request)


LANG_PARAMETER = OpenApiParameter(
    "lang",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=language_codes(),
    description="Language of `name` and `description`; wins over `Accept-Language`. "
    "Default: English.",
)


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
