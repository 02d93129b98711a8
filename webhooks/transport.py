"""One HTTP POST to a webhook endpoint: to the address that was checked (no second DNS lookup
for the connection to race), redirects not followed, a bounded wait, a bounded read."""

import http.client
import socket
import ssl
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


def post(url: str, *, headers: dict[str, str], body: str) -> Outcome:
    """POST `body` to `url`; never raises for a network or HTTP failure."""
    try:
        scheme, host, port, address = url_resolve(url)
    except ValidationError as exc:
        return Outcome(None, exc.message_dict["url"][0])
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, settings.WEBHOOK_TIMEOUT)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(RESPONSE_READ_LIMIT)
        return Outcome(response.status)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        connection.close()
