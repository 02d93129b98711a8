"""The app as the README starts it without nginx: a bare `gunicorn --config gunicorn.conf.py
achievements_site.wsgi`, DEBUG off, `collectstatic` never run, gthread workers.

- HEAD answers carry no body, so the next response on the same keep-alive connection parses
  (gunicorn sends whatever body the app returns, even for HEAD);
- every page, the admin and the docs answer 200 with their assets;
- the request head limits are the ones nginx applies in front.
"""

import json
import re
import socket
from dataclasses import dataclass

import pytest

from tests.helpers import LOOPBACK
from tests.reliability.processes import Gunicorn, app_environment, fetch, manage

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served-by-gunicorn")
    env = app_environment(
        f"sqlite:///{root / 'db.sqlite3'}",
        STATIC_ROOT=str(root / "never-collected"),
        WEB_CONCURRENCY="1",
        # More than one thread: the gthread worker, which keeps connections alive.
        GUNICORN_THREADS="4",
    )
    manage(env, "migrate", "--noinput")
    server = Gunicorn.start(env, root / "gunicorn.log")
    yield server
    server.stop()


@dataclass
class RawResponse:
    status_line: str
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive connection, read byte for byte as a strict HTTP/1.1 client reads it."""

    def __init__(self, port: int):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=10)
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    def request(self, method: str, path: str) -> RawResponse:
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD":
            # A HEAD response ends with its headers, whatever Content-Length says (RFC 9110).
            return RawResponse(status_line, headers, b"")
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status_line, headers, body)

    def nothing_more_was_sent(self) -> bool:
        self.sock.settimeout(0.5)
        try:
            return self.buffer == b"" and self.sock.recv(1) == b""
        except TimeoutError:
            return self.buffer == b""

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/achievements/",
        "/api/v1/users/nobody/",
        "/api/v1/nonexistent/",
        "/healthz",
        "/static/css/site.css",
    ],
)
def test_head_then_get_on_one_keep_alive_connection_both_parse(server, path):
    connection = Connection(server.port)
    try:
        head = connection.request("HEAD", path)
        get = connection.request("GET", path)
        after = connection.request("GET", "/healthz")
        clean = connection.nothing_more_was_sent()
    finally:
        connection.close()

    assert get.body, "the GET has a body the HEAD must leave out"
    assert head.status_line == get.status_line
    assert head.status_line.startswith("HTTP/1.1 ")
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.body))
    assert after.status_line == "HTTP/1.1 200 OK"
    assert json.loads(after.body) == {"status": "ok"}
    assert clean, "bytes arrived that belong to no response"


@pytest.mark.parametrize(
    "path", ["/", "/achievements/", "/leaderboard/", "/admin/login/", "/api/docs/", "/api/redoc/"]
)
def test_without_collectstatic_every_page_the_admin_and_the_docs_answer_with_their_assets(
    server, path
):
    page = fetch(server.port, path)

    assert page.status == 200, page.body[:500]
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.body.decode())
    assert assets
    for asset in assets:
        assert fetch(server.port, asset).status == 200, asset


def test_a_request_line_of_8_kib_passes_and_a_longer_one_is_refused_by_gunicorn(server):
    # nginx in front takes a request line up to its 8k header buffer; gunicorn takes the same.
    prefix = "/api/v1/users/?search="
    fits = prefix + "a" * (8190 - len(f"GET {prefix} HTTP/1.1"))
    too_long = fits + "a" * 100

    assert fetch(server.port, fits).status == 200
    assert fetch(server.port, too_long).status == 400
