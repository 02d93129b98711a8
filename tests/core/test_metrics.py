"""/metrics: Prometheus' text format, for the allowed addresses or the bearer token only; and
Sentry, which stays off (no SDK client, so no network) unless SENTRY_DSN is set."""

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from tests.helpers import REPO_ROOT, process_environment
from tests.reliability.processes import Gunicorn, app_environment, fetch, manage

TOKEN = "metrics-token-0123456789"


def scrape(address: str = "127.0.0.1", **headers):
    return Client(REMOTE_ADDR=address, headers=headers).get("/metrics")


@pytest.mark.django_db
def test_loopback_reads_request_database_and_view_metrics(client):
    client.get("/api/v1/users/")
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total{" in body
    assert 'view="user-list"' in body
    assert "django_http_requests_latency_seconds_by_view_method_bucket{" in body
    assert "django_db_query_duration_seconds_bucket{" in body


def series_value(body: str, name: str, **labels) -> float:
    """The value of the one series of `name` carrying these labels (0 when absent)."""
    for line in body.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.django_db
def test_every_request_counts_in_its_views_series(client):
    """The series are looked up once and kept (core.middleware.PrometheusAfterMiddleware);
    each request still adds to its own."""
    name = "django_http_requests_total_by_view_transport_method_total"
    by_status = "django_http_responses_total_by_status_view_method_total"
    before = scrape().content.decode()
    for _ in range(3):
        client.get("/api/v1/users/")
    client.get("/api/v1/users/nobody-here/")
    after = scrape().content.decode()
    assert (
        series_value(after, name, view="user-list", method="GET")
        - series_value(before, name, view="user-list", method="GET")
        == 3
    )
    assert (
        series_value(after, by_status, status="404", view="user-detail")
        - series_value(before, by_status, status="404", view="user-detail")
        == 1
    )


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["203.0.113.7", "10.0.0.5", "::2"])
def test_other_addresses_are_refused_by_default(address):
    response = scrape(address)
    assert response.status_code == 403
    assert b"django_http" not in response.content
    assert "detail" in response.json()


@pytest.mark.django_db
def test_allowed_networks_are_read_from_the_setting(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "fd00::/8"]
    assert scrape("10.1.2.3").status_code == 200
    assert scrape("fd00::1").status_code == 200
    assert scrape("127.0.0.1").status_code == 403
    assert scrape("11.0.0.1").status_code == 403


@pytest.mark.django_db
def test_the_bearer_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(settings):
    settings.METRICS_TOKEN = TOKEN
    assert scrape("203.0.113.7", Authorization=f"Bearer {TOKEN}").status_code == 200
    assert scrape("203.0.113.7", Authorization="Bearer wrong").status_code == 403
    assert scrape("203.0.113.7", Authorization=f"Token {TOKEN}").status_code == 403
    # A wrong token is refused even from an allowed address: it is a mistake worth seeing.
    assert scrape("127.0.0.1", Authorization="Bearer wrong").status_code == 403


@pytest.mark.django_db
def test_without_a_token_set_no_bearer_value_opens_metrics(settings):
    settings.METRICS_TOKEN = ""
    assert scrape("203.0.113.7", Authorization="Bearer ").status_code == 403


@pytest.mark.django_db
def test_a_forwarded_for_header_does_not_make_a_client_local_by_default():
    assert scrape("203.0.113.7", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 403


@pytest.mark.django_db
def test_metrics_refuse_writes(client):
    assert Client(REMOTE_ADDR="127.0.0.1").post("/metrics").status_code == 405


def sentry_state(**environment: str) -> str:
    code = (
        "import django, sentry_sdk; django.setup(); "
        "client = sentry_sdk.get_client(); "
        "print(client.is_active(), client.dsn or '')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=process_environment(
            DJANGO_SETTINGS_MODULE="achievements_site.settings", DEBUG="1", **environment
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_sentry_stays_off_without_a_dsn():
    assert sentry_state() == "False"


def test_sentry_reports_errors_when_a_dsn_is_set():
    # Nothing is sent at start-up: the DSN's port is closed and the process still starts.
    dsn = "http://public@127.0.0.1:9/1"
    assert sentry_state(SENTRY_DSN=dsn) == f"True {dsn}"


@pytest.mark.e2e
def test_under_gunicorn_metrics_add_up_every_worker(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, one scrape counts the requests all workers served."""
    env = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    manage(env, "migrate", "--noinput", "-v0")
    server = Gunicorn.start(
        env,
        tmp_path / "gunicorn.log",
        "--access-logformat",
        "served-by %(p)s %(U)s",
        WEB_CONCURRENCY="3",
    )
    # Bursts of 30 until two workers have served some: the first worker up can serve a whole
    # burst while the others still load the app.
    sent, deadline = 0, time.monotonic() + 30
    try:
        while True:
            with ThreadPoolExecutor(max_workers=10) as pool:
                list(pool.map(lambda _: fetch(server.port, "/api/v1/users/"), range(30)))
            sent += 30
            workers = set(re.findall(r"served-by <(\d+)> /api/v1/users/", server.log()))
            if len(workers) > 1 or time.monotonic() > deadline:
                break
        body = fetch(server.port, "/metrics").body.decode()
    finally:
        server.stop()
    counter = "django_http_requests_total_by_view_transport_method_total"
    served = re.findall(rf'{counter}\{{[^}}]*view="user-list"[^}}]*\}} (\S+)', body)
    assert sum(float(value) for value in served) == sent
    assert len(workers) > 1, "one worker served every request: nothing was shown"
