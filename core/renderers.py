"""Response formats: JSON for programs, DRF's browsable API for people in a browser."""

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
