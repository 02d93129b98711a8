"""When PostgreSQL stops or stops answering, the API fails fast and honestly, then recovers.

The test starts its own PostgreSQL cluster (initdb/pg_ctl) on a free port and the app under
gunicorn with the repo's gunicorn.conf.py, so it can stop, freeze and restart the database
under a running app. Nothing is restarted on the app's side: gunicorn's process stays the same.
"""

import http.client
import os
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.reliability.processes import (
    Gunicorn,
    app_environment,
    fetch,
    manage,
    migrated_cluster,
)

pytestmark = pytest.mark.e2e

# The settings' defaults (DB_CONNECT_TIMEOUT=3 s); the statement timeout is shortened so the
# lock-wait case runs quickly, but it is the same mechanism as the 15 s default.
CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 2000
# Seconds an API request may take to answer 503 when the database is gone.
FAST = 1.5
USERNAME = "outage-survivor"


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster with the app's tables."""
    with migrated_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def app(cluster, tmp_path_factory):
    """gunicorn against the private cluster, with a user and an integration token."""
    env = app_environment(
        cluster.url(),
        DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        DB_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
    )
    token = manage(env, "create_api_token", "outage-test").strip()
    server = Gunicorn.start(
        env, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log", WEB_CONCURRENCY="2"
    )
    server.token = token
    try:
        response = fetch(
            server.port,
            "/api/v1/users/",
            method="POST",
            headers=auth(server),
            body={"username": USERNAME},
        )
        assert response.status == 201, response.body
        yield server
    finally:
        server.stop()


def auth(app) -> dict[str, str]:
    return {"Authorization": f"Token {app.token}"}


def api_requests(app) -> list[tuple[str, str, dict | None, dict]]:
    """A read and a write of each kind the service serves: (method, path, body, headers)."""
    return [
        ("GET", "/api/v1/achievements/", None, {}),
        ("GET", f"/api/v1/users/{USERNAME}/", None, {}),
        ("GET", f"/api/v1/users/{USERNAME}/achievements/", None, {}),
        ("GET", "/api/v1/stats/", None, {}),
        ("POST", "/api/v1/users/", {"username": "newcomer"}, auth(app)),
        ("PATCH", f"/api/v1/users/{USERNAME}/", {"language": "ru"}, auth(app)),
    ]


def assert_unavailable(response, bound: float) -> None:
    """An honest 503: JSON in DRF's error shape, Retry-After, and no longer than `bound`."""
    assert response.status == 503, (response.status, response.body[:300])
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()
    assert response.elapsed < bound, f"took {response.elapsed:.1f}s, bound {bound}s"


def wait_until_ready(app, timeout: float = 20) -> float:
    """Poll /readyz until it answers 200; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if fetch(app.port, "/readyz", timeout=10).status == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"/readyz not 200 within {timeout}s:\n{app.log()[-3000:]}")


def assert_serving(app) -> None:
    for method, path, body, headers in api_requests(app):
        if method == "POST":
            continue  # creates once; covered by the write below
        response = fetch(app.port, path, method=method, body=body, headers=headers)
        assert response.status == 200, (method, path, response.status, response.body[:300])


def kill_app_connections(cluster) -> None:
    """End the app's open database sessions, so its next request must connect afresh.

    Waits (up to 5 s each) until the sessions are gone: a session still ending when the next
    request arrives would answer that request's first statement with its goodbye, a failure
    no health check can see coming."""
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )


def app_connections(cluster, application_name: str) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        return connection.execute(query, [application_name]).fetchone()[0]


def test_the_api_answers_while_the_database_is_up(app):
    assert fetch(app.port, "/readyz").status == 200
    assert fetch(app.port, "/healthz").status == 200
    assert_serving(app)


def test_a_stopped_database_gives_fast_503s_and_the_app_recovers_by_itself(app, cluster):
    pid = app.process.pid
    cluster.stop("immediate")
    try:
        for method, path, body, headers in api_requests(app):
            response = fetch(app.port, path, method=method, body=body, headers=headers)
            assert_unavailable(response, FAST)
        assert_unavailable(fetch(app.port, "/readyz"), FAST)
        liveness = fetch(app.port, "/healthz")
        assert liveness.status == 200 and liveness.elapsed < FAST
    finally:
        cluster.start()

    recovered_in = wait_until_ready(app)
    assert recovered_in < 5
    assert_serving(app)
    # Nothing written during the outage: the newcomer was never registered.
    assert fetch(app.port, "/api/v1/users/newcomer/").status == 404
    assert app.process.pid == pid and app.process.poll() is None, "gunicorn was not restarted"


def test_a_database_that_accepts_but_never_answers_is_bounded_by_the_connect_timeout(app, cluster):
    kill_app_connections(cluster)
    cluster.freeze()
    try:
        bound = CONNECT_TIMEOUT + 2
        response = fetch(app.port, "/api/v1/achievements/")
        assert_unavailable(response, bound)
        assert response.elapsed >= CONNECT_TIMEOUT - 0.5, "it did wait for the connect timeout"
        assert_unavailable(fetch(app.port, "/readyz"), bound)
        write = fetch(
            app.port,
            "/api/v1/users/",
            method="POST",
            headers=auth(app),
            body={"username": "frozen-out"},
        )
        assert_unavailable(write, bound)
        liveness = fetch(app.port, "/healthz")
        assert liveness.status == 200 and liveness.elapsed < FAST
    finally:
        cluster.thaw()

    wait_until_ready(app)
    assert_serving(app)


def test_a_request_stuck_on_a_lock_is_cut_by_the_statement_timeout(app, cluster):
    with psycopg.connect(cluster.url()) as blocker:
        # Another session holds the user's row, as a long maintenance transaction might.
        blocker.execute(
            "SELECT id FROM users_user WHERE LOWER(username) = %s FOR UPDATE", [USERNAME]
        ).fetchone()
        started = time.monotonic()
        response = fetch(
            app.port,
            f"/api/v1/users/{USERNAME}/",
            method="PATCH",
            headers=auth(app),
            body={"language": "en"},
        )
        assert_unavailable(response, STATEMENT_TIMEOUT_MS / 1000 + 2)
        assert time.monotonic() - started >= STATEMENT_TIMEOUT_MS / 1000 - 0.5
        blocker.rollback()
    response = fetch(
        app.port,
        f"/api/v1/users/{USERNAME}/",
        method="PATCH",
        headers=auth(app),
        body={"language": "en"},
    )
    assert response.status == 200, response.body


@pytest.mark.slow
def test_a_frozen_database_server_holds_a_request_no_longer_than_the_worker_timeout(
    cluster, tmp_path
):
    """The one wait no database timeout bounds: every server process is stopped, so an open
    connection neither answers nor fails (the kernel still acknowledges it). gunicorn's worker
    timeout (GUNICORN_TIMEOUT, 30 s by default, below nginx's 35 s read timeout) ends it: the
    worker is aborted and replaced, gunicorn answers its own bare 500, and the other workers keep
    serving /healthz meanwhile."""
    worker_timeout = 6  # seconds; the same mechanism as the 30 s default, quicker to watch
    name = "frozen-test"
    env = app_environment(
        f"{cluster.url()}?application_name={name}", DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT)
    )
    server = Gunicorn.start(
        env,
        tmp_path / "gunicorn.log",
        WEB_CONCURRENCY="2",
        GUNICORN_TIMEOUT=str(worker_timeout),
    )
    try:
        # Both workers open their connection (requests sent all at once land on both), so the
        # next request waits on an open connection whichever worker takes it.
        for _ in range(10):
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = set(
                    pool.map(lambda _: fetch(server.port, "/api/v1/achievements/").status, range(8))
                )
            assert statuses == {200}
            if app_connections(cluster, name) == 2:
                break
        assert app_connections(cluster, name) == 2
        cluster.freeze_all()
        try:
            started = time.monotonic()
            try:
                status = fetch(server.port, "/api/v1/achievements/", timeout=60).status
            except (http.client.RemoteDisconnected, ConnectionResetError):
                status = None  # the worker died before it could answer
            held = time.monotonic() - started
            assert status in {None, 500}, status
            assert worker_timeout - 1 <= held < worker_timeout + 5, held
            liveness = fetch(server.port, "/healthz", timeout=5)
            assert liveness.status == 200
        finally:
            cluster.thaw_all()
        wait_until_ready(server)
        assert fetch(server.port, "/api/v1/achievements/").status == 200
        assert "WORKER TIMEOUT" in server.log()
    finally:
        server.stop()


def test_the_app_logged_each_outage_without_a_server_error(app):
    log = app.log()
    assert "database unavailable" in log
    assert "Internal Server Error" not in log, log[-3000:]
    assert os.path.getsize(app.log_path) > 0
