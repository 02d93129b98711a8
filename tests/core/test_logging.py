"""Audit logs of grants and revocations, one request id per request, JSON lines on request.

The tests log through the same pieces the LOGGING setting wires to the console (the request-id
filter and the JsonFormatter) into a buffer they read back. Audit lines are written when the
transaction commits, so the tests that expect one commit for real.
"""

import io
import json
import logging
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from achievements.accounts import integration_account_ensure
from core.logging import JsonFormatter, RequestIdFilter
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client
from tests.reliability.processes import REPO_ROOT, Gunicorn, app_environment, fetch, manage

GENERATED_ID = r"[0-9a-f]{32}"


@pytest.fixture
def log_lines():
    """Everything logged at INFO and above while the test runs, as parsed JSON lines."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    try:
        yield read
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


@pytest.fixture
def api(db):
    return token_client(integration_account_ensure(name="game-server"))


def only(lines: list[dict], **fields) -> dict:
    matching = [line for line in lines if fields.items() <= line.items()]
    assert len(matching) == 1, (fields, lines)
    return matching[0]


@pytest.mark.django_db(transaction=True)
def test_a_grant_is_logged_with_who_whom_what_and_when(api, log_lines):
    user, achievement = UserFactory(username="ada"), AchievementFactory(code="first-steps")
    at = (timezone.now() - timedelta(days=2)).replace(microsecond=0)

    response = api.post(
        "/api/v1/users/ada/achievements/",
        {"achievement": "first-steps", "awarded_at": at.isoformat()},
        HTTP_X_REQUEST_ID="grant-42",
    )

    assert response.status_code == 201
    line = only(log_lines(), event="award_granted")
    assert line["by"] == "game-server"  # who
    assert line["user"] == user.username  # whom
    assert line["achievement"] == achievement.code  # what
    assert line["at"] == at.isoformat()  # when the award counts from
    assert line["time"]  # when it was given
    assert line["level"] == "INFO"
    assert line["request_id"] == "grant-42" == response["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_a_revocation_is_logged_with_who_whom_what_and_when(api, log_lines, grant):
    user, achievement = UserFactory(username="bo"), AchievementFactory(code="gone-soon")
    grant(user, achievement)
    before = timezone.now()

    response = api.delete("/api/v1/users/bo/achievements/gone-soon/", HTTP_X_REQUEST_ID="rev-7")

    assert response.status_code == 204
    line = only(log_lines(), event="award_revoked")
    assert (line["by"], line["user"], line["achievement"]) == ("game-server", "bo", "gone-soon")
    assert before <= datetime.fromisoformat(line["at"]) <= timezone.now()
    assert line["request_id"] == "rev-7" == response["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_without_a_request_id_one_is_generated_for_the_response_and_every_line(api, log_lines):
    UserFactory(username="cy")
    AchievementFactory(code="any")

    response = api.post("/api/v1/users/cy/achievements/", {"achievement": "any"})

    request_id = response["X-Request-ID"]
    assert re.fullmatch(GENERATED_ID, request_id)
    lines = log_lines()
    assert lines and {line["request_id"] for line in lines} == {request_id}
    # Outside a request, lines carry no request's id.
    logging.getLogger("tests").info("between requests")
    assert log_lines()[-1]["request_id"] == "-"


@pytest.mark.parametrize("unusable", ["has spaces", "x" * 129, "semi;colon", "é"])
def test_an_unusable_request_id_is_replaced_by_a_generated_one(db, client, unusable):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=unusable)
    assert re.fullmatch(GENERATED_ID, response["X-Request-ID"])


def test_error_lines_django_writes_after_the_middleware_carry_the_request_id(
    api, log_lines, monkeypatch
):
    def unavailable():
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("achievements.api.achievement_list", unavailable)

    response = api.get("/api/v1/achievements/", HTTP_X_REQUEST_ID="outage-1")

    assert response.status_code == 503
    lines = log_lines()
    assert {line["logger"] for line in lines} >= {"core.errors", "django.request"}
    assert {line["request_id"] for line in lines} == {"outage-1"}


def test_the_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "achievements.services",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "award granted: %s\nsecond line",
            "args": ("знаток",),
            "request_id": "abc",
            "event": "award_granted",
            "user": "знаток",
        }
    )
    try:
        raise ValueError("with a traceback\nover lines")
    except ValueError:
        record.exc_info = sys.exc_info()

    output = JsonFormatter().format(record)

    assert "\n" not in output
    line = json.loads(output)
    assert line["message"] == "award granted: знаток\nsecond line"
    assert (line["event"], line["user"], line["request_id"]) == ("award_granted", "знаток", "abc")
    assert "ValueError: with a traceback" in line["exception"]
    assert {"time", "level", "logger"} <= line.keys()


def test_with_log_format_json_the_configured_console_writes_json_lines(tmp_path):
    """The LOGGING setting itself, in a fresh process: every line it writes parses as JSON."""
    env = app_environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_FORMAT="json")
    script = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('achievements.services').info('award granted', "
        "extra={'event': 'award_granted', 'user': 'ada'})\n"
        "try:\n    1 / 0\n"
        "except ZeroDivisionError:\n    logging.getLogger('django.request').exception('boom')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["award granted", "boom"]
    assert lines[0]["event"] == "award_granted" and lines[0]["request_id"] == "-"
    assert "ZeroDivisionError" in lines[1]["exception"]


@pytest.mark.e2e
def test_with_log_format_json_every_line_gunicorn_writes_is_json(tmp_path):
    """gunicorn's own lines and its access lines too, not only Django's: start, requests (one
    with nginx's request id, one an error page, one a bad token), stop."""
    env = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOG_FORMAT="json",
        STATIC_ROOT=str(tmp_path),  # exists: WhiteNoise has nothing to warn about
    )
    manage(env, "migrate", "--noinput", "-v0")
    server = Gunicorn.start(env, tmp_path / "gunicorn.log", WEB_CONCURRENCY="2")
    try:
        fetch(server.port, "/api/v1/users/", headers={"X-Request-ID": "abc-123"})
        fetch(server.port, "/api/v1/users/nobody/")
        fetch(server.port, "/api/v1/users/", headers={"Authorization": "Token bad"})
    finally:
        server.stop()
    raw = server.log().splitlines()
    lines = [json.loads(line) for line in raw if line.strip()]
    assert len(lines) == len(raw)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    requests = {(line["method"], line["path"], line["status"]) for line in access}
    assert {
        ("GET", "/api/v1/users/", 200),
        ("GET", "/api/v1/users/nobody/", 404),
        ("GET", "/api/v1/users/", 401),
    } <= requests
    assert all(isinstance(line["duration_ms"], float) for line in access)
    assert any(line["request_id"] == "abc-123" for line in access)
    assert all(re.fullmatch(r"[0-9a-f]{32}|abc-123", line["request_id"]) for line in access)
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # "Booting worker" etc.
