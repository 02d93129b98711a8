"""Which webhook URLs the service may call: https (http only when allowed) to hosts that resolve
to public addresses only. Checked at registration and again at every delivery, so a name that
later resolves to an internal address (DNS rebinding) is still refused, and the delivery then
connects to the very address that was checked."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _forbidden(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def url_parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an allowed URL; ValidationError on `url` otherwise."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": ["Enter a valid http(s) URL."]}) from None
    parts = urlsplit(url)
    allow_http = settings.DEBUG or settings.WEBHOOK_ALLOW_HTTP
    if parts.scheme != "https" and not allow_http:
        raise ValidationError({"url": ["Use an https URL."]})
    if parts.username or parts.password:
        raise ValidationError({"url": ["Give no credentials in the URL."]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({"url": ["Enter a valid port."]}) from None
    return parts.scheme, parts.hostname or "", port


def url_resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) for a call to `url`: the first address it resolves to,
    every one of which must be public unless WEBHOOK_ALLOW_PRIVATE; ValidationError on `url`."""
    scheme, host, port = url_parts(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError({"url": [f"The host {host!r} does not resolve."]}) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not settings.WEBHOOK_ALLOW_PRIVATE and any(_forbidden(a) for a in addresses):
        raise ValidationError(
            {"url": ["The host resolves to a loopback, private or reserved address."]}
        )
    return scheme, host, port, str(addresses[0])
