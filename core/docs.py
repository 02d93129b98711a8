"""The API docs work with no internet access: ReDoc's bundle is served with its one remote
reference, the Redocly logo in the sidebar footer, pointed at a copy served here."""

import functools
import hashlib
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.views.decorators.http import etag, require_safe

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# The bundle renders <img src=...> with this address; a browser would fetch it from Redocly.
REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = "docs/redoc-logo-mini.svg"


@functools.cache
def redoc_bundle() -> bytes:
    """The sidecar's ReDoc bundle with the logo's address replaced by the local copy."""
    source = Path(finders.find(REDOC_BUNDLE)).read_text(encoding="utf-8")
    return source.replace(REMOTE_LOGO, static(LOCAL_LOGO)).encode("utf-8")


@functools.cache
def _bundle_etag() -> str:
    return hashlib.sha256(redoc_bundle()).hexdigest()[:32]


@require_safe
@etag(lambda request: _bundle_etag())
def redoc_standalone(request: HttpRequest) -> HttpResponse:
    """ReDoc's script for /api/redoc/, cacheable for a day (its ETag changes with its content)."""
    response = HttpResponse(redoc_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response
