"""Webhook URLs: https, and public addresses only, unless the settings allow otherwise."""

import socket

import pytest
from django.core.exceptions import ValidationError

from webhooks.addresses import url_resolve


def resolving_to(monkeypatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(family, socket.SOCK_STREAM, 6, "", (address, port))],
    )


def url_error(url: str) -> str:
    with pytest.raises(ValidationError) as caught:
        url_resolve(url)
    return caught.value.message_dict["url"][0]


@pytest.fixture(autouse=True)
def strict(settings):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False


def test_a_public_https_url_resolves_to_the_address_to_call(monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34")

    assert url_resolve("https://hooks.example.com/in") == (
        "https",
        "hooks.example.com",
        443,
        "93.184.216.34",
    )


def test_plain_http_is_refused(monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34")

    assert "https" in url_error("http://hooks.example.com/in")


def test_plain_http_is_allowed_when_the_setting_says_so(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    resolving_to(monkeypatch, "93.184.216.34")

    assert url_resolve("http://hooks.example.com/in")[0] == "http"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_a_host_resolving_to_an_internal_address_is_refused(monkeypatch, address):
    resolving_to(monkeypatch, address)

    assert "private" in url_error("https://rebind.example.com/")


def test_internal_addresses_are_allowed_when_the_setting_says_so(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    resolving_to(monkeypatch, "127.0.0.1")

    assert url_resolve("https://localhost:8443/")[3] == "127.0.0.1"


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "https://user:pw@example.com/"])
def test_a_malformed_url_is_refused(url):
    assert url_error(url)


def test_a_host_that_does_not_resolve_is_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "getaddrinfo", fail)

    assert "does not resolve" in url_error("https://nowhere.invalid/")
