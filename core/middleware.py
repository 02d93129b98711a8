"""Request-wide middleware: request ids for the logs, a cap on request bodies, an honest 503
when the database is down, and the HTTP behaviour every client can count on (HEAD without a
body, API paths with or without their trailing slash, JSON errors under `/api/`)."""

import logging
import re
import uuid
from http import HTTPStatus

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.core.exceptions import DisallowedHost
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.urls import is_valid_path
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django_prometheus.middleware import (
    PrometheusAfterMiddleware as DjangoPrometheusAfterMiddleware,
)

from core.errors import database_unavailable_response, is_database_unavailable
from core.logging import request_id_var

logger = logging.getLogger(__name__)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

API_PREFIX = "/api/"
# DRF's own wording where it has one, so every JSON error reads alike.
API_ERROR_DETAILS = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    500: "A server error occurred.",
}


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


# What a view or decorator can set on a response to change its policy (django-csp's decorators).
_CSP_PER_RESPONSE = frozenset(
    f"_csp_{part}{suffix}"
    for part in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy built once instead of for every response.

    django-csp builds the header from the settings on each response. Unless a response carries
    a policy of its own (django-csp's decorators) or the request used a nonce, the header
    depends on the settings alone: it is built by django-csp's own `build_policy` the first
    time and reused, and built again if the settings object changes (override_settings).
    Anything else goes to django-csp unchanged.
    """

    _built: dict = {}

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or not _CSP_PER_RESPONSE.isdisjoint(
            vars(response)
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        for header, name in (
            (HEADER, "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            config = getattr(settings, name, None)
            built = self._built.get(name)
            if built is None or built[0] is not config:
                policy = build_policy(report_only=header == HEADER_REPORT_ONLY)
                prefixes = tuple((config or {}).get("EXCLUDE_URL_PREFIXES") or ())
                built = self._built[name] = (config, policy, prefixes)
            _config, policy, prefixes = built
            if policy and header not in response and not request.path_info.startswith(prefixes):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


class MessageMiddleware(DjangoMessageMiddleware):
    """Django's messages (the admin's notices), left out of `/api/`: no API response, page of
    the browsable API or doc UI shows or stores one, so an API request builds no message
    storage (about 20 microseconds) and leaves the messages waiting for the admin."""

    def process_request(self, request):
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware, without looking for a language in the path when no URL
    pattern carries one (no `i18n_patterns`, as here): the language comes from the cookie and
    `Accept-Language`, the response gets `Vary: Accept-Language` and `Content-Language`, as
    Django's does in that case. With `i18n_patterns` it is Django's."""

    def process_request(self, request):
        if _language_prefix_patterns_used(request):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if _language_prefix_patterns_used(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def _language_prefix_patterns_used(request) -> bool:
    return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]


class PrometheusAfterMiddleware(DjangoPrometheusAfterMiddleware):
    """django-prometheus' per-view middleware, with each labelled series looked up once.

    It asks prometheus_client for the series of a metric and its labels six times a request
    (`labels()` checks the label names, converts the values and takes a lock each time); the
    series for given labels is always the same object, so it is kept here. The metrics and
    their values are unchanged.
    """

    def __init__(self, get_response):
        super().__init__(get_response)
        self._series = {}

    def label_metric(self, metric, request, response=None, **labels):
        if not labels:
            return metric
        key = (metric, *labels.items())
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = metric.labels(**labels)
        return series


class HeadResponseMiddleware:
    """Answer HEAD with the GET's status and headers and no body, whatever server runs the app.

    Django's handler leaves the body in a HEAD response and gunicorn sends it; on a keep-alive
    connection the client then reads those bytes as the start of the next response. The GET's
    Content-Length is kept: RFC 9110 (9.3.2, 8.6) lets a HEAD response carry the length the GET
    would have had, and clients know that a HEAD response has no body whatever it says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method != "HEAD":
            return response
        if response.streaming:
            # Close the iterator (and any file behind it) without reading it.
            response.close()
            response.streaming_content = []
        else:
            response.content = b""
        return response


def _resolves(path: str, request) -> bool:
    return is_valid_path(path, getattr(request, "urlconf", None))


class ApiTrailingSlashMiddleware:
    """Serve an `/api/` path without its trailing slash as the slashed route, for every method.

    No redirect: clients replay a redirected POST as a GET and the write is lost. The request
    goes on as if the slash had been sent, so every route (and every route added later) answers
    both ways, and links the API builds (`next`, `previous`) carry the slash.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (
            path.startswith(API_PREFIX)
            and not path.endswith("/")
            and not _resolves(path, request)
            and _resolves(f"{path}/", request)
        ):
            request.path_info = f"{path}/"
            request.path = f"{request.path}/"
        return self.get_response(request)


class ApiJsonErrorsMiddleware:
    """Every error under `/api/` is JSON in DRF's shape, `{"detail": ...}`, never a page.

    DRF's views answer JSON themselves; this catches what Django answers around them: an
    unknown route (404), a bad Host header (400), a failure outside DRF's handler (500), and
    Django's debug pages when DEBUG is on. Headers such as Allow and Retry-After are kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith(API_PREFIX)
            or _is_json(response)
        ):
            return response
        replacement = JsonResponse(
            {"detail": _error_detail(request, response.status_code)},
            status=response.status_code,
        )
        for header, value in response.items():
            if header.lower() not in {"content-type", "content-length"}:
                replacement[header] = value
        # Made outside CommonMiddleware, which would otherwise have set it.
        replacement["Content-Length"] = str(len(replacement.content))
        # The replaced error page is not closed: it holds no file or stream, and its close()
        # would announce the end of the request (request_finished) while the request still
        # runs, closing the database connection under the middleware outside this one.
        return replacement


def _is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _error_detail(request, status_code: int) -> str:
    if status_code == 400:
        try:
            request.get_host()
        except DisallowedHost:
            return "Invalid Host header."
    return API_ERROR_DETAILS.get(status_code) or HTTPStatus(status_code).phrase + "."
