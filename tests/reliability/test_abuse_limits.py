"""Abuse limits: throttling per client (behind nginx too), one request body size, one page size.

The test settings turn throttling off; these tests set rates themselves. DRF reads the rates
into `SimpleRateThrottle.THROTTLE_RATES` once at import, so they are patched there, while
`NUM_PROXIES` is read per request from `api_settings`, which reloads when REST_FRAMEWORK changes.
"""

import contextlib
import re
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from achievements.accounts import integration_account_ensure
from tests.factories import UserFactory
from tests.helpers import skip_or_fail, token_client
from tests.reliability.processes import (
    REPO_ROOT,
    Gunicorn,
    app_environment,
    fetch,
    free_port,
    manage,
)
from users.models import User

REDIS_URL = "redis://127.0.0.1:6379/1"
CATALOG = "/api/v1/achievements/"


@pytest.fixture
def rates(monkeypatch, settings):
    """`rates(anon=..., user=...)` sets the throttle rates, with a fresh private cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{uuid.uuid4().hex}",
        }
    }

    def set_rates(anon: str | None = None, user: str | None = None) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": anon, "user": user})

    return set_rates


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()


@pytest.mark.django_db
def test_anonymous_clients_get_429_with_retry_after_past_their_rate(rates):
    rates(anon="3/min")
    client = APIClient()
    for _ in range(3):
        assert client.get(CATALOG).status_code == 200
    assert_throttled(client.get(CATALOG))
    assert_throttled(client.get("/api/v1/stats/"))


@pytest.mark.django_db
def test_each_token_has_its_own_budget_and_anonymous_rate_does_not_apply(rates):
    rates(anon="1/min", user="3/min")
    first = token_client(integration_account_ensure(name="first"))
    second = token_client(integration_account_ensure(name="second"))
    for number in range(3):
        response = first.post("/api/v1/users/", {"username": f"made-{number}"})
        assert response.status_code == 201, response.content
    assert_throttled(first.get(CATALOG))
    assert second.get(CATALOG).status_code == 200


@pytest.mark.django_db
def test_behind_one_proxy_the_client_is_the_address_nginx_appended(rates, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    rates(anon="2/min")
    client = APIClient(REMOTE_ADDR="10.0.0.2")  # nginx, as gunicorn sees it

    def get(forwarded_for: str):
        return client.get(CATALOG, HTTP_X_FORWARDED_FOR=forwarded_for)

    assert get("203.0.113.7").status_code == 200
    assert get("203.0.113.7").status_code == 200
    assert_throttled(get("203.0.113.7"))
    # The client's own X-Forwarded-For comes first, nginx appends the real address last: a
    # made-up header does not buy a new budget.
    assert_throttled(get("198.51.100.1, 203.0.113.7"))
    assert get("203.0.113.8").status_code == 200


@pytest.mark.django_db
def test_without_num_proxies_a_forged_header_would_buy_a_new_budget(rates):
    """Why NUM_PROXIES must match the proxies in front: DRF's default trusts the whole header."""
    rates(anon="1/min")
    client = APIClient(REMOTE_ADDR="10.0.0.2")
    assert client.get(CATALOG, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200
    forged = client.get(CATALOG, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert forged.status_code == 200


def test_num_proxies_matches_the_proxy_chain_of_the_deployment():
    """nginx appends the peer to X-Forwarded-For, and compose tells the app there is one proxy."""
    template = REPO_ROOT / "nginx" / "templates" / "default.conf.template"
    compose = REPO_ROOT / "docker-compose.yml"
    if not template.exists() or not compose.exists():
        pytest.skip("no nginx template or docker-compose.yml in this checkout")
    assert re.search(
        r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", template.read_text()
    )
    assert re.search(r"""NUM_PROXIES:\s*["']?1["']?\s*$""", compose.read_text(), re.MULTILINE)


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_with_413_before_parsing(settings):
    api = token_client(integration_account_ensure(name="uploader"))
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit == 1024 * 1024
    envelope = '{"username": "big", "pad": ""}'
    too_big = envelope.replace('""', '"' + "x" * (limit - len(envelope) + 1) + '"')
    assert len(too_big) == limit + 1
    response = api.post("/api/v1/users/", too_big, content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.json()
    assert not User.objects.filter(username="big").exists()
    just_fits = too_big.replace("x", "", 1)
    response = api.post("/api/v1/users/", just_fits, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_pages_hold_at_most_1000_results_whatever_the_limit_asked(django_assert_max_num_queries):
    User.objects.bulk_create(UserFactory.build(username=f"u{n:04d}") for n in range(1001))
    client = APIClient()
    for path in ("/api/v1/users/", "/api/v1/stats/leaderboard/"):
        with django_assert_max_num_queries(5):
            body = client.get(path, {"limit": 100000}).json()
        assert body["count"] == 1001
        assert len(body["results"]) == 1000
        assert "offset=1000" in body["next"]


# Across processes -----------------------------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path):
    """A Redis that answers, with our keys removed after: the one at REDIS_URL, else a private
    `redis-server` on a free port; skipped without either (a failure in CI)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    server = None
    try:
        client.ping()
        url = REDIS_URL
    except redis.RedisError as exc:
        binary = shutil.which("redis-server")
        if not binary:
            skip_or_fail(f"no Redis at {REDIS_URL} ({exc}) and no redis-server to start")
        port = free_port()
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/1"
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        for _ in range(50):
            with contextlib.suppress(redis.RedisError):
                client.ping()
                break
            time.sleep(0.1)
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    try:
        yield url, prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


@pytest.mark.e2e
def test_with_redis_the_limit_holds_across_gunicorn_workers(redis_url, tmp_path):
    """Three workers, one budget: after `rate` requests, every worker refuses.

    The budget is spent first, one request at a time; then a burst of simultaneous requests
    spreads over the workers, and all are refused. With a cache per worker (the local-memory
    default), any worker that had served fewer than all five would still let requests through.
    """
    url, prefix = redis_url
    env = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL=f"{url}?key_prefix={prefix}",
        THROTTLE_ANON_RATE="5/min",
    )
    manage(env, "migrate", "--noinput", "-v0")
    # The access log names the worker (pid) that served each request.
    server = Gunicorn.start(
        env,
        tmp_path / "gunicorn.log",
        "--access-logformat",
        "served-by %(p)s %(s)s",
        WEB_CONCURRENCY="3",
    )
    try:
        assert [fetch(server.port, CATALOG).status for _ in range(5)] == [200] * 5
        refusing_workers = set()
        for _ in range(5):  # bursts until more than one worker has answered
            with ThreadPoolExecutor(max_workers=20) as pool:
                statuses = set(pool.map(lambda _: fetch(server.port, CATALOG).status, range(20)))
            assert statuses == {429}
            refusing_workers = set(re.findall(r"served-by <(\d+)> 429", server.log()))
            if len(refusing_workers) > 1:
                break
    finally:
        server.stop()
    assert len(refusing_workers) > 1, "one worker answered every burst: nothing was shown"
