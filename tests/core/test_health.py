"""/healthz answers while the process lives; /readyz while the database and the cache answer."""

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_readiness_is_200_when_the_database_and_the_cache_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readiness_is_503_naming_the_cache_when_the_cache_fails(client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(cache, "set", broken)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert "cache" in response.json()["detail"]
    assert response["Retry-After"]


def test_liveness_needs_neither(client, monkeypatch):
    monkeypatch.setattr(cache, "set", lambda *a, **k: 1 / 0)

    assert client.get("/healthz").status_code == 200
