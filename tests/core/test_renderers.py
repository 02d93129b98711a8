"""The browsable API: a browser gets DRF's HTML page, programs get JSON as before, and errors
are JSON for everyone."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from core.renderers import ContentNegotiation
from tests.factories import UserFactory
from tests.helpers import text

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_browsable_api_page(db):
    UserFactory(username="anna")

    response = Client().get("/api/v1/users/", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = text(response)
    assert "anna" in body
    assert 'class="response-info"' in body


def test_the_browsable_api_loads_nothing_from_other_hosts(db):
    body = text(Client().get("/api/v1/stats/", headers={"Accept": "text/html"}))

    assets = re.findall(r'(?:src|href)="([^"]+\.(?:css|js))"', body)
    assert assets, "the page links its styles and scripts"
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not shipped"


def test_json_clients_are_unaffected(db):
    UserFactory(username="anna")

    for accept in (None, "*/*", "application/json"):
        headers = {"Accept": accept} if accept else {}
        response = Client().get("/api/v1/users/", headers=headers)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["results"][0]["username"] == "anna"


def test_an_error_stays_json_for_a_browser(db):
    response = Client().get("/api/v1/users/nobody/", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in json.loads(response.content)


def test_a_bad_write_from_a_browser_session_is_answered_in_json(db):
    response = Client().post(
        "/api/v1/users/", {}, content_type="application/json", headers={"Accept": "text/html"}
    )

    assert response.status_code in {401, 403}
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "text/html", BROWSER_ACCEPT, "*/*; q=0.5", "text/*"],
)
@pytest.mark.parametrize("query", [{}, {"format": "json"}, {"format": "api"}, {"format": ""}])
@pytest.mark.parametrize("suffix", [None, "json"])
def test_negotiation_chooses_as_drf_does(accept, query, suffix):
    """The shortcut for no Accept header or */* picks DRF's own renderer and media type."""
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/v1/users/", query, **headers))
    renderers = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]

    def choose(negotiation):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
        except exceptions.NotAcceptable:
            return "406"
        return type(renderer), media_type

    assert choose(ContentNegotiation()) == choose(DefaultContentNegotiation())


def test_the_api_negotiates_with_the_shortcut():
    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is ContentNegotiation
