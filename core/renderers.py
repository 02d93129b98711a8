"""Response formats: JSON for programs, DRF's browsable API for people in a browser."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer as DRFBrowsableAPIRenderer
from rest_framework.renderers import JSONRenderer


class BrowsableAPIRenderer(DRFBrowsableAPIRenderer):
    """DRF's HTML page around a successful answer; an error stays JSON for every client, as
    the contract has it (under /api/ no error is an HTML page)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            json = JSONRenderer()
            response["Content-Type"] = json.media_type
            return json.render(data, json.media_type, renderer_context)
        return super().render(data, accepted_media_type, renderer_context)


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with the commonest request answered without parsing: no `Accept`
    header or `*/*`, no `?format=` and no format suffix get the first renderer and its media
    type, which is what DRF's own matching returns for them."""

    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type != "*/*"
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and not format_suffix
            and not request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
