"""Abuse limits: throttling per client (behind nginx too), one request body size, one page size.

The test settings turn throttling off; these tests set rates themselves. DRF reads the rates
into `SimpleRateThrottle.THROTTLE_RATES` once at import, so they are patched there, while
`NUM_PROXIES` is read per request from `api_settings`, which reloads when REST_FRAMEWORK changes.
"""

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
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

# A Redis database the tests may write to (their keys carry a random prefix, removed after).
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
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
def test_by_default_a_spoofed_forwarded_for_buys_no_new_anonymous_budget(rates):
    """NUM_PROXIES defaults to 0: the client is the peer address, whatever the header says.
    (DRF's own default, None, took the whole header, so each made-up value was a new client.)"""
    rates(anon="1/min")
    client = APIClient(REMOTE_ADDR="10.0.0.2")
    assert client.get(CATALOG, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200
    assert_throttled(client.get(CATALOG, HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert_throttled(client.get(CATALOG, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7"))
    assert_throttled(client.get(CATALOG))


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
        # `next` goes on after the 1000th (an offset for users, a cursor for the leaderboard).
        rest = client.get(body["next"]).json()
        assert len(rest["results"]) == 1
        assert rest["next"] is None


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


def burst(port: int, count: int, path: str, **request) -> list:
    """`count` requests released at the same moment, one connection each."""
    start = threading.Barrier(count)

    def one(_):
        start.wait()
        return fetch(port, path, **request)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def statuses(responses) -> dict[int, int]:
    return dict(Counter(response.status for response in responses))


def assert_refusals_say_when_to_retry(responses) -> None:
    for response in responses:
        if response.status == 429:
            assert int(response.headers["retry-after"]) > 0
            assert "detail" in response.json()


@pytest.mark.e2e
def test_a_burst_never_passes_more_than_the_limit_across_gunicorn_workers(redis_url, tmp_path):
    """40 requests at once over four workers: exactly the limit passes, for the anonymous rate,
    a token's rate and the failed-authentication limit. DRF's own throttle read and wrote its
    history in two steps and let 33 of 40 through for a limit of 20."""
    url, prefix = redis_url
    env = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL=f"{url}?key_prefix={prefix}",
        THROTTLE_ANON_RATE="10/hour",
        THROTTLE_USER_RATE="10/hour",
        AUTH_FAILURE_RATE="10/hour",
    )
    manage(env, "migrate", "--noinput", "-v0")
    token = manage(env, "create_api_token", "burst").strip()
    server = Gunicorn.start(
        env,
        tmp_path / "gunicorn.log",
        "--access-logformat",
        "served-by %(p)s %(s)s",
        WEB_CONCURRENCY="4",
    )
    try:
        anonymous = burst(server.port, 40, CATALOG)
        with_token = burst(server.port, 40, CATALOG, headers={"Authorization": f"Token {token}"})
        bad_tokens = burst(
            server.port, 40, CATALOG, headers={"Authorization": f"Token {uuid.uuid4().hex}"}
        )
        # Locked out now, even with the good token.
        after = fetch(server.port, CATALOG, headers={"Authorization": f"Token {token}"})
    finally:
        server.stop()
    assert statuses(anonymous) == {200: 10, 429: 30}
    assert statuses(with_token) == {200: 10, 429: 30}
    assert statuses(bad_tokens) == {401: 10, 429: 30}
    assert after.status == 429
    for responses in (anonymous, with_token, bad_tokens):
        assert_refusals_say_when_to_retry(responses)
    workers = set(re.findall(r"served-by <(\d+)> (?:200|401)", server.log()))
    assert len(workers) > 1, "one worker served every request: nothing was shown"


@pytest.mark.e2e
def test_a_burst_of_bad_admin_passwords_is_locked_out_across_gunicorn_workers(redis_url, tmp_path):
    """django-axes counts in the same Redis: of 30 wrong passwords at once, exactly the 10 the
    limit allows get the login form again; the rest get 429 with Retry-After."""
    url, prefix = redis_url
    env = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL=f"{url}?key_prefix={prefix}",
        AUTH_FAILURE_RATE="10/hour",
        STATIC_ROOT=str(tmp_path / "static"),
        CSRF_COOKIE_SECURE="0",
        SESSION_COOKIE_SECURE="0",
    )
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    server = Gunicorn.start(env, tmp_path / "gunicorn.log", WEB_CONCURRENCY="4")
    try:
        form = fetch(server.port, "/admin/login/")
        cookie = form.headers["set-cookie"].split(";")[0]
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
        body = b"username=admin&password=wrong&csrfmiddlewaretoken=" + csrf
        attempts = burst(
            server.port,
            30,
            "/admin/login/",
            method="POST",
            body=body,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
    finally:
        server.stop()
    assert statuses(attempts) == {200: 10, 429: 20}
    for response in attempts:
        if response.status == 429:
            assert int(response.headers["retry-after"]) > 0
