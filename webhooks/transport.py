"""One HTTP POST to a webhook endpoint: to the address that was checked (no second DNS lookup
for the connection to race), redirects not followed, a bounded wait, a bounded read. Connections
are kept alive and reused per (scheme, host, port, address), so a busy endpoint costs one TCP
(and TLS) handshake, not one per message."""

import http.client
import socket
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from webhooks.addresses import url_resolve

# Enough of a response body for the delivery log; the rest is never read.
RESPONSE_READ_LIMIT = 4096


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or None and the error that prevented one."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


Target = tuple[str, str, int, str]  # scheme, host, port, the checked address

# Idle connections kept per target; more are opened when more attempts run at once.
IDLE_PER_TARGET = 16


class _Idle:
    """Idle keep-alive connections per target, shared by the worker's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle: dict[Target, list[http.client.HTTPConnection]] = defaultdict(list)

    def take(self, target: Target) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(target)
            return idle.pop() if idle else None

    def give_back(self, target: Target, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[target]
            if len(idle) < IDLE_PER_TARGET:
                idle.append(connection)
                return
        connection.close()


_idle = _Idle()


def resolve(url: str) -> Target | Outcome:
    """The target of a call to `url` (checked: scheme and public addresses), or the failed
    Outcome that refuses it."""
    try:
        return url_resolve(url)
    except ValidationError as exc:
        return Outcome(None, exc.message_dict["url"][0])


def post(url: str, *, headers: dict[str, str], body: str, target: Target | None = None) -> Outcome:
    """POST `body` to `url` (at `target`, from resolve(url), when given); never raises for a
    network or HTTP failure."""
    target = target or resolve(url)
    if isinstance(target, Outcome):
        return target
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _idle.take(target)
    if connection is not None:
        try:
            return _exchange(target, connection, path, headers, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The receiver closed the idle connection meanwhile: once more on a new one. (Had it
            # read the message first, it gets it twice under one webhook-id: at least once.)
            pass
        except (OSError, http.client.HTTPException) as exc:
            return _error(exc)
    scheme, host, port, address = target
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    try:
        return _exchange(
            target,
            connection_class(host, port, address, settings.WEBHOOK_TIMEOUT),
            path,
            headers,
            body,
        )
    except (OSError, http.client.HTTPException) as exc:
        return _error(exc)


def _error(exc: Exception) -> Outcome:
    return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])


def _exchange(
    target: Target,
    connection: http.client.HTTPConnection,
    path: str,
    headers: dict[str, str],
    body: str,
) -> Outcome:
    """One request and response on `connection`, kept for the next call when the answer was
    read to its end and the receiver keeps the connection open; closed otherwise."""
    keep = False
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(RESPONSE_READ_LIMIT)
        keep = response.isclosed() and not response.will_close
        return Outcome(response.status)
    finally:
        if keep:
            _idle.give_back(target, connection)
        else:
            connection.close()
