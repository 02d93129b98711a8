"""Static files with DEBUG off: hashed names once `collectstatic` has run, and the plain names
(served by WhiteNoise from the apps' folders) before it, so no page fails for want of it.

The same start without `collectstatic`, under a real gunicorn, is checked in
tests/reliability/test_served_by_gunicorn.py.
"""

import re

import pytest
from django.core.management import call_command
from django.templatetags.static import static

from achievements_site import settings as production_settings

# What the settings choose with DEBUG off (the tests' own settings swap it for a plain one).
PRODUCTION_STATICFILES = production_settings.STORAGES["staticfiles"]


@pytest.fixture
def production_static(settings, tmp_path):
    """DEBUG off with the production storage, and a STATIC_ROOT that collectstatic never filled."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": PRODUCTION_STATICFILES}
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/achievements/", "/admin/login/", "/api/docs/", "/api/redoc/"]
)
def test_without_collectstatic_pages_the_admin_and_the_docs_answer_200(
    client, production_static, path
):
    response = client.get(path)

    assert response.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', response.content.decode())
    assert assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_without_collectstatic_assets_keep_their_plain_names(production_static):
    assert static("css/site.css") == "/static/css/site.css"


def test_after_collectstatic_assets_get_hashed_names(production_static):
    call_command("collectstatic", "--noinput", verbosity=0)

    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", static("css/site.css"))
    assert (production_static.STATIC_ROOT / "staticfiles.json").is_file()
