"""The deployment for real, on loopback.

Debian's nginx with the repo's template, in front of gunicorn with the repo's config started through
the image's entrypoint, with production settings, against the PostgreSQL test database. Without
nginx or PostgreSQL it skips on a workstation and fails in CI.
"""

import gzip
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from io import StringIO
from types import SimpleNamespace
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command

from tests.deploy.stack import (
    ENTRYPOINT,
    fetch,
    find_nginx,
    nginx_command,
    prepare_nginx,
    self_signed_certificate,
    start_gunicorn,
    start_nginx,
)
from tests.helpers import LOOPBACK, REPO_ROOT, free_port, process_environment, skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SITE = "127.0.0.1 localhost"
TWO_MEGABYTES = 2 * 1024 * 1024


def postgres_url(database: dict) -> str:
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{database.get('HOST') or ''}{port}/{database['NAME']}"


@pytest.fixture(scope="module")
def nginx_binary():
    nginx = find_nginx()
    if nginx is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
    return nginx


@pytest.fixture(scope="module")
def database_url(django_db_setup):
    """The URL of the test database pytest-django created (it must be PostgreSQL)."""
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith(".postgresql"):
        skip_or_fail("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    return postgres_url(database)


@pytest.fixture(scope="module")
def production_env(database_url, tmp_path_factory):
    """Production settings by environment alone, with static files collected as the image does."""
    collected = tmp_path_factory.mktemp("collected-static")
    env = {
        **process_environment(),
        "DJANGO_SETTINGS_MODULE": "achievements_site.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(collected),
        "NUM_PROXIES": "1",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


@pytest.fixture(scope="module")
def gunicorn(production_env, tmp_path_factory):
    """gunicorn via the entrypoint, which publishes the static files into nginx's directory.

    pytest-django already migrated the test database; the entrypoint's migration step has its own
    test on a fresh database below.
    """
    port = free_port()
    nginx_static = tmp_path_factory.mktemp("nginx-static")
    env = {**production_env, "NGINX_STATIC_ROOT": str(nginx_static), "MIGRATE_ON_START": "0"}
    service = start_gunicorn(port=port, env=env, log_dir=tmp_path_factory.mktemp("gunicorn"))
    yield SimpleNamespace(port=port, service=service, env=env, static_root=nginx_static)
    service.stop()


def run_nginx(nginx_binary, gunicorn, directory, *, extra_conf="", ssl=False):
    port = free_port()
    listen = f"{LOOPBACK}:{port}" + (" ssl" if ssl else "")
    prepare_nginx(
        directory,
        {
            "APP_UPSTREAM": f"{LOOPBACK}:{gunicorn.port}",
            "NGINX_SERVER_NAME": SITE,
            "NGINX_LISTEN_PORT": listen,
            "STATIC_ROOT": str(gunicorn.static_root),
            "NGINX_ACCESS_LOG": str(directory / "site-access.log"),
        },
        extra_conf,
    )
    check = subprocess.run(
        nginx_command(nginx_binary, directory, "-t"), capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return port, start_nginx(nginx_binary, directory, port=port)


@pytest.fixture(scope="module")
def nginx_directory(tmp_path_factory):
    """Where the plain-HTTP nginx keeps its configuration and logs."""
    return tmp_path_factory.mktemp("nginx")


@pytest.fixture(scope="module")
def nginx(nginx_binary, gunicorn, nginx_directory):
    """nginx on plain HTTP, as in docker-compose.yml."""
    port, service = run_nginx(nginx_binary, gunicorn, nginx_directory)
    yield port
    service.stop()


@pytest.fixture(scope="module")
def nginx_tls(nginx_binary, gunicorn, tmp_path_factory):
    """nginx terminating TLS: the same template, certificates in a conf.d file (see README)."""
    if shutil.which("openssl") is None:
        skip_or_fail("openssl is not installed (it makes the test certificate)")
    directory = tmp_path_factory.mktemp("nginx-tls")
    certificate, key = self_signed_certificate(tmp_path_factory.mktemp("certificates"))
    tls_conf = f"ssl_certificate {certificate};\nssl_certificate_key {key};\n"
    port, service = run_nginx(nginx_binary, gunicorn, directory, extra_conf=tls_conf, ssl=True)
    yield port
    service.stop()


def test_probes_answer_over_plain_http_through_nginx(nginx):
    health = fetch(nginx, "/healthz")
    ready = fetch(nginx, "/readyz")

    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    assert (ready.status, json.loads(ready.body)) == (200, {"status": "ready"})
    assert ready.header("Server") == "nginx"


def test_hashed_static_files_come_from_nginx_with_a_year_of_cache(nginx, gunicorn):
    manifest = json.loads((gunicorn.static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]

    response = fetch(nginx, f"/static/{hashed}")

    assert response.status == 200
    assert response.body == (gunicorn.static_root / hashed).read_bytes()
    assert response.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert response.header("Content-Type") == "text/css"
    # Everything Django answers carries X-Request-ID; nginx alone sent this file.
    assert response.header("X-Request-ID") is None


def test_without_nginx_whitenoise_serves_the_same_static_files(gunicorn):
    manifest = json.loads((gunicorn.static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]

    # As behind a TLS-terminating platform; plain HTTP would get the HTTPS redirect first.
    response = fetch(gunicorn.port, f"/static/{hashed}", headers={"X-Forwarded-Proto": "https"})

    assert response.status == 200
    assert response.body == (gunicorn.static_root / hashed).read_bytes()
    assert "immutable" in response.header("Cache-Control")
    assert response.header("X-Request-ID") is not None


def test_unhashed_and_missing_static_files_stay_with_nginx(nginx):
    unhashed = fetch(nginx, "/static/admin/css/base.css")
    missing = fetch(nginx, "/static/no/such/file.css")

    assert unhashed.status == 200
    assert unhashed.header("Cache-Control") == "public, max-age=300"
    assert missing.status == 404
    assert missing.header("X-Request-ID") is None


def test_static_files_use_the_precompressed_gzip(nginx, gunicorn):
    response = fetch(nginx, "/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"})

    assert response.header("Content-Encoding") == "gzip"
    original = (gunicorn.static_root / "admin" / "css" / "base.css").read_bytes()
    assert gzip.decompress(response.body) == original


def test_plain_http_is_redirected_to_https_even_when_the_client_claims_https(nginx):
    response = fetch(nginx, "/api/docs/", headers={"X-Forwarded-Proto": "https"})

    # nginx overwrote the forged header with its own scheme, so Django saw plain HTTP.
    assert response.status == 301
    assert response.header("Location") == f"https://127.0.0.1:{nginx}/api/docs/"


def test_https_at_nginx_reaches_django_as_a_secure_request(nginx_tls):
    response = fetch(nginx_tls, "/api/docs/", tls=True, headers={"Accept-Encoding": "gzip"})

    assert response.status == 200
    # Django sends HSTS on secure requests only: X-Forwarded-Proto: https arrived and was trusted.
    assert response.header("Strict-Transport-Security").startswith("max-age=31536000")
    assert response.header("Content-Encoding") == "gzip"
    assert b"swagger" in gzip.decompress(response.body).lower()


def test_unknown_host_is_dropped_without_an_answer(nginx, gunicorn):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        fetch(nginx, "/healthz", host="attacker.example")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        fetch(nginx, "/healthz", host=f"{LOOPBACK}.nip.io")


def test_oversized_body_is_refused_by_nginx_before_django(nginx):
    response = fetch(
        nginx,
        "/api/v1/users/",
        method="POST",
        body=b"{" + b" " * TWO_MEGABYTES + b"}",
        headers={"Content-Type": "application/json"},
    )

    assert response.status == 413
    assert response.header("X-Request-ID") is None
    assert response.header("Content-Type") == "application/json"
    assert json.loads(response.body) == {
        "detail": "The request body is larger than the limit of 1048576 bytes."
    }


def test_a_request_line_or_header_too_long_for_nginx_is_refused_in_json(nginx):
    long_line = fetch(nginx, "/api/v1/users/?search=" + "a" * 9000)
    long_header = fetch(nginx, "/api/v1/users/", headers={"X-Padding": "b" * 9000})

    assert long_line.status == 414
    assert json.loads(long_line.body) == {"detail": "The request line is longer than 8192 bytes."}
    assert long_header.status == 400
    assert long_header.header("Content-Type") == "application/json"
    assert "8192 bytes" in json.loads(long_header.body)["detail"]


def test_an_unreachable_app_is_a_json_503_under_the_api_and_a_page_elsewhere(
    nginx_binary, tmp_path_factory
):
    nobody_listens = SimpleNamespace(
        port=free_port(), static_root=tmp_path_factory.mktemp("no-static")
    )
    port, service = run_nginx(nginx_binary, nobody_listens, tmp_path_factory.mktemp("nginx-down"))
    try:
        api = fetch(port, "/api/v1/users/")
        page = fetch(port, "/")
    finally:
        service.stop()

    assert api.status == 503
    assert api.header("Retry-After") == "5"
    assert json.loads(api.body) == {
        "detail": "The service is temporarily unavailable; retry shortly."
    }
    assert page.status == 502
    assert "html" in page.header("Content-Type")


def test_request_id_and_client_address_reach_the_gunicorn_access_log(nginx, gunicorn):
    traced_headers = {"X-Request-ID": "e2e-trace-42", "X-Forwarded-For": "203.0.113.9"}
    traced = fetch(nginx, "/healthz", headers=traced_headers)
    fresh = fetch(nginx, "/healthz")

    assert traced.header("X-Request-ID") == "e2e-trace-42"
    assert len(fresh.header("X-Request-ID")) == 32  # nginx's $request_id, passed on by Django
    expected = '203.0.113.9, 127.0.0.1 via 127.0.0.1 "GET /healthz HTTP/1.0" 200'
    gunicorn.service.wait_until(lambda: expected in gunicorn.service.log(), timeout=5)
    line = next(line for line in gunicorn.service.log().splitlines() if expected in line)
    assert "request_id=e2e-trace-42" in line


def test_nginx_writes_one_json_access_line_per_request_with_the_request_id(nginx, nginx_directory):
    traced_headers = {"X-Request-ID": "e2e-nginx-7", "X-Forwarded-For": "198.51.100.4"}
    fetch(nginx, "/healthz?probe=1", headers=traced_headers)
    log = nginx_directory / "site-access.log"

    def traced_lines():
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line) for line in lines if "e2e-nginx-7" in line]

    deadline = time.monotonic() + 5
    while not traced_lines() and time.monotonic() < deadline:
        time.sleep(0.05)
    [line] = traced_lines()
    assert line["client"] == "198.51.100.4, 127.0.0.1"
    assert (line["method"], line["uri"], line["status"]) == ("GET", "/healthz?probe=1", 200)
    assert line["request_time_s"] >= 0
    assert float(line["upstream_time_s"]) >= 0
    assert line["time"]


def test_api_answers_json_through_nginx(nginx_tls):
    token = StringIO()
    call_command("create_api_token", "e2e-deploy", stdout=token)
    json_body = {"Content-Type": "application/json"}
    auth = {**json_body, "Authorization": f"Token {token.getvalue().strip()}"}
    user = json.dumps({"username": "e2e_alice", "language": "ru"}).encode()

    anonymous = fetch(
        nginx_tls, "/api/v1/users/", tls=True, method="POST", body=user, headers=json_body
    )
    created = fetch(nginx_tls, "/api/v1/users/", tls=True, method="POST", body=user, headers=auth)
    listed = fetch(nginx_tls, "/api/v1/achievements/", tls=True)

    assert anonymous.status == 401
    assert created.status == 201, created.body
    assert json.loads(created.body)["username"] == "e2e_alice"
    assert listed.status == 200
    assert listed.header("Content-Type") == "application/json"
    assert set(json.loads(listed.body)) == {"count", "next", "previous", "results"}


def test_image_healthcheck_passes_against_live_gunicorn_and_fails_without_it(gunicorn):
    def healthcheck(port):
        env = {**gunicorn.env, "PORT": str(port)}
        return subprocess.run(["sh", str(ENTRYPOINT), "healthcheck"], env=env, capture_output=True)

    assert healthcheck(gunicorn.port).returncode == 0
    assert healthcheck(free_port()).returncode != 0


@pytest.fixture
def unanswering_database():
    """A TCP port that accepts connections and never says a word, like a hung database host."""
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        yield f"postgres://nobody@{LOOPBACK}:{listener.getsockname()[1]}/nothing"


def test_readyz_answers_503_quickly_when_the_database_hangs(
    production_env, unanswering_database, tmp_path
):
    port = free_port()
    env = {
        **production_env,
        "DATABASE_URL": unanswering_database,
        "DB_CONNECT_TIMEOUT": "2",
        "MIGRATE_ON_START": "0",
        "WEB_CONCURRENCY": "1",
    }
    service = start_gunicorn(port=port, env=env, log_dir=tmp_path, name="gunicorn-no-db")
    try:
        started = time.monotonic()
        ready = fetch(port, "/readyz")
        elapsed = time.monotonic() - started
        alive = fetch(port, "/healthz")
    finally:
        service.stop()

    assert ready.status == 503
    assert ready.header("Retry-After") is not None
    assert elapsed < 10
    assert alive.status == 200


@pytest.fixture
def fresh_database():
    """An empty database next to the test database, as on a first `docker compose up`."""
    database = settings.DATABASES["default"]
    name = f"{database['NAME']}_entrypoint_{os.getpid()}"
    admin_url = postgres_url(database)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url({**database, "NAME": name})
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_replicas_starting_together_migrate_and_seed_once(production_env, fresh_database):
    url = fresh_database
    env = {**production_env, "DATABASE_URL": url, "SEED_DEMO": "1"}
    # --check-config loads the app and exits: the entrypoint's start-up work is what is tested.
    command = [
        "sh",
        str(ENTRYPOINT),
        "gunicorn",
        "--check-config",
        "--config",
        "gunicorn.conf.py",
        "achievements_site.wsgi",
    ]

    def start_replica():
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def counts():
        with psycopg.connect(url) as connection:
            migrations = connection.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
            achievements = connection.execute(
                "SELECT count(*) FROM achievements_achievement"
            ).fetchone()[0]
        return migrations, achievements

    replicas = [start_replica() for _ in range(3)]
    outputs = [replica.communicate(timeout=300)[0] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], "\n".join(outputs)
    after_first_start = counts()
    restarted = start_replica()
    output = restarted.communicate(timeout=300)[0]

    assert restarted.returncode == 0, output
    assert after_first_start[0] > 0
    assert after_first_start[1] >= 25
    assert counts() == after_first_start
