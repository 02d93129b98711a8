"""The HTTP behaviour every client can count on: HEAD answers without a body, API paths work
with and without their trailing slash for every method, and every error under `/api/` is JSON.

HEAD is checked through the WSGI application itself, as a server calls it: Django's test client
drops HEAD bodies on its own and would hide the defect. The same check over a real gunicorn
socket is in tests/reliability/test_served_by_gunicorn.py.
"""

import io
import sys

import pytest
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.test import Client, RequestFactory

from achievements.models import Achievement, Award
from core.middleware import HeadResponseMiddleware
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from users import api as users_api
from users.models import User


def wsgi_call(method: str, path: str, **environ) -> tuple[str, dict[str, str], bytes]:
    """One request through the project's WSGI application, as gunicorn makes it."""
    from achievements_site.wsgi import application

    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, dict(headers)

    path, _, query = path.partition("?")
    base = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    result = application({**base, **environ}, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], body


# --- HEAD -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/", "/api/v1/achievements/?lang=ru", "/api/v1/stats/", "/healthz", "/"],
)
def test_a_head_response_has_the_gets_headers_and_no_body(path):
    UserFactory(username="ann")
    AchievementFactory(code="dragon")

    get_status, get_headers, get_body = wsgi_call("GET", path)
    head_status, head_headers, head_body = wsgi_call("HEAD", path)

    assert get_body, "the GET has a body to leave out"
    assert head_body == b""
    assert head_status == get_status
    # Every header of the GET, its length included; the request id and a fresh CSRF cookie
    # differ from request to request by design.
    assert set(head_headers) == set(get_headers)
    per_request = {"X-Request-ID", "Set-Cookie"}
    assert {k: v for k, v in head_headers.items() if k not in per_request} == {
        k: v for k, v in get_headers.items() if k not in per_request
    }
    assert head_headers["Content-Length"] == str(len(get_body))


@pytest.mark.django_db(transaction=True)
def test_a_head_error_response_has_no_body_either():
    status, headers, body = wsgi_call("HEAD", "/api/v1/users/nobody/")

    assert status.startswith("404")
    assert headers["Content-Type"] == "application/json"
    assert body == b""


class Chunks:
    """A streamed body that records whether it was read and whether it was closed."""

    def __init__(self):
        self.read = self.closed = False

    def __iter__(self):
        self.read = True
        yield b"never sent"

    def close(self):
        self.closed = True


def test_a_head_streaming_response_is_closed_unread(db):
    # db: closing a response sends request_finished, which checks the database connection.
    chunks = Chunks()

    def view(request):
        response = StreamingHttpResponse(chunks, content_type="text/plain")
        response["Content-Length"] = "10"
        return response

    response = HeadResponseMiddleware(view)(RequestFactory().head("/file"))

    assert b"".join(response.streaming_content) == b""
    assert response["Content-Length"] == "10"
    assert (chunks.read, chunks.closed) == (False, True)


# --- trailing slash ---------------------------------------------------------------------------


@pytest.fixture
def scene(db):
    UserFactory(username="ann")
    AchievementFactory(code="dragon", points=40)


def test_writes_without_the_trailing_slash_are_served_not_redirected(api, scene):
    created = api.post("/api/v1/users", {"username": "bob"})
    changed = api.patch("/api/v1/users/bob", {"language": "ru"})
    added = api.post(
        "/api/v1/achievements",
        {"code": "egg", "points": 5, "name_en": "Egg", "description_en": "Find it."},
    )
    repointed = api.patch("/api/v1/achievements/egg", {"points": 7})
    awarded = api.post("/api/v1/users/bob/achievements", {"achievement": "egg"})
    revoked = api.delete("/api/v1/users/bob/achievements/egg")
    dropped = api.delete("/api/v1/achievements/egg")
    removed = api.delete("/api/v1/users/bob")

    statuses = [
        r.status_code
        for r in (created, changed, added, repointed, awarded, revoked, dropped, removed)
    ]
    assert statuses == [201, 200, 201, 200, 201, 204, 204, 204]
    assert changed.json()["language"] == "ru"
    assert repointed.json()["points"] == 7
    assert not User.objects.filter(username="bob").exists()
    assert not Achievement.objects.filter(code="egg").exists()
    assert not Award.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users",
        "/api/v1/users/ann",
        "/api/v1/achievements",
        "/api/v1/achievements/dragon",
        "/api/v1/users/ann/achievements",
        "/api/v1/stats",
        "/api/v1/stats/most-points",
        "/api/v1/stats/streaks",
        "/api/v1/stats/leaderboard",
        "/api/v1/stats/achievements",
        "/api/v1",
    ],
)
def test_reads_without_the_trailing_slash_answer_like_the_slashed_path(anonymous, scene, path):
    without = anonymous.get(path)
    with_slash = anonymous.get(f"{path}/")

    assert without.status_code == with_slash.status_code == 200
    assert without.json() == with_slash.json()


def test_links_built_for_a_path_without_the_slash_carry_the_slash(anonymous, scene):
    UserFactory.create_batch(3)

    body = anonymous.get("/api/v1/users?limit=2").json()

    assert body["next"] == "http://testserver/api/v1/users/?limit=2&offset=2"


def test_an_unknown_api_path_without_the_slash_is_a_json_404_not_a_redirect(api, scene):
    response = api.post("/api/v1/nonexistent", {"a": 1})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_pages_still_redirect_to_their_slashed_address(client, scene):
    response = client.get("/leaderboard")

    assert response.status_code == 301
    assert response["Location"] == "/leaderboard/"


# --- JSON errors under /api/ ------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("path", ["/api/v1/nonexistent/", "/api/v2/users/", "/api/"])
def test_an_unknown_api_route_is_a_json_404(anonymous, settings, debug, path):
    settings.DEBUG = debug

    response = anonymous.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert response["Content-Length"] == str(len(response.content))


def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(api, scene):
    response = api.put("/api/v1/users/ann/", {"language": "ru"})

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert "PUT" in response.json()["detail"]
    assert "PATCH" in response["Allow"]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_bad_host_header_is_a_json_400_under_the_api(db, settings, debug):
    settings.DEBUG = debug

    response = Client().get("/api/v1/users/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Invalid Host header."}


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_server_error_under_the_api_is_a_json_500(db, settings, monkeypatch, debug):
    settings.DEBUG = debug

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(users_api, "user_list", broken)

    response = Client(raise_request_exception=False).get("/api/v1/users/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred."}
    assert "X-Request-ID" in response


def test_pages_keep_their_html_error_pages(db, settings):
    settings.DEBUG = False

    missing = Client().get("/no/such/page/")
    bad_host = Client().get("/", HTTP_HOST="evil.example")

    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("text/html")
    assert bad_host.status_code == 400
    assert bad_host["Content-Type"].startswith("text/html")


# --- the API root -----------------------------------------------------------------------------


def test_the_api_root_lists_the_top_level_resources_with_urls_that_answer(anonymous, api, scene):
    response = anonymous.get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "users": "http://testserver/api/v1/users/",
        "achievements": "http://testserver/api/v1/achievements/",
        "stats": "http://testserver/api/v1/stats/",
        "activity": "http://testserver/api/v1/activity/",
        "webhooks": "http://testserver/api/v1/webhooks/",
    }
    credentials_needed = {"activity", "webhooks"}
    for name, url in body.items():
        client = api if name in credentials_needed else anonymous
        assert client.get(url.removeprefix("http://testserver")).status_code == 200, name


def test_the_api_root_refuses_writes_with_a_json_405(api):
    response = api.post("/api/v1/", {})

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"


def test_a_query_string_over_djangos_field_limit_is_a_json_400(anonymous, scene):
    query = "&".join(f"f{n}=1" for n in range(1001))  # DATA_UPLOAD_MAX_NUMBER_FIELDS is 1000

    response = anonymous.get(f"/api/v1/users/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Bad request."}


def test_api_requests_leave_the_admins_messages_waiting(db):
    """No API response shows a message, so an API request neither builds the message storage
    nor consumes a message the admin has queued; the next page still has it."""
    client = Client()
    client.force_login(OperatorFactory())
    queued = client.get("/admin/")
    messages.add_message(queued.wsgi_request, messages.INFO, "Saved.")
    queued.wsgi_request._messages.update(queued)
    client.cookies.update(queued.cookies)

    api_response = client.get("/api/v1/achievements/")
    assert api_response.status_code == 200
    assert not hasattr(api_response.wsgi_request, "_messages")
    page = client.get("/admin/")
    assert [str(message) for message in messages.get_messages(page.wsgi_request)] == ["Saved."]
