"""The site's own error pages: 404 for any unknown address, 500 when a page fails."""

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from pages import views as pages
from tests.helpers import text

pytestmark = pytest.mark.django_db


def test_an_unknown_address_gets_the_sites_404_page(settings):
    settings.DEBUG = False

    response = Client().get("/no/such/page/")

    assert response.status_code == 404
    body = text(response)
    assert "Page not found" in body
    assert 'href="/"' in body
    assert '<html lang="en">' in body


def test_the_404_page_is_translated(settings):
    settings.DEBUG = False

    body = text(Client(headers={"Accept-Language": "ru"}).get("/no/such/page/"))

    assert "Страница не найдена" in body


def test_a_failing_page_gets_the_sites_500_page(settings, monkeypatch):
    settings.DEBUG = False

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "award_list_recent", broken)
    client = Client(raise_request_exception=False)

    response = client.get("/")

    assert response.status_code == 500
    assert "Something went wrong" in text(response)
    assert "boom" not in text(response)


def test_the_500_page_renders_without_a_request_in_both_languages():
    assert "Something went wrong" in render_to_string("500.html")
    with translation.override("ru"):
        assert "Что-то пошло не так" in render_to_string("500.html")


@pytest.mark.parametrize("path", ["/search/?q=a%00", "/users/a%00/", "/achievements/a%00/"])
def test_a_nul_character_in_a_search_or_lookup_is_not_a_server_error(client, path):
    response = client.get(path, follow=True)

    assert response.status_code in (200, 404)
