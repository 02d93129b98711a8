"""`/api/v1/webhooks/`: register, read, change and remove endpoints; the delivery log."""

import socket

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from achievements.accounts import integration_account_ensure
from tests.helpers import token_client
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_test_send

HOOKS = "/api/v1/webhooks/"
PUBLIC = "93.184.216.34"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch, settings):
    """Every host resolves to a public address unless a test says otherwise."""
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))],
    )


def test_registering_answers_201_with_the_secret_once(api):
    response = api.post(HOOKS, {"url": "https://crm.example.com/hooks", "events": []})
    listed = api.get(HOOKS).json()
    one = api.get(f"{HOOKS}{response.json()['id']}/").json()

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "events", "active", "secret", "disabled_reason", "created_at"}
    assert body["secret"].startswith("whsec_") and body["active"] is True
    assert [e["id"] for e in listed["results"]] == [body["id"]]
    assert "secret" not in listed["results"][0] and "secret" not in one


def test_an_event_filter_is_kept(api):
    body = api.post(HOOKS, {"url": "https://a.example.com/", "events": ["award.revoked"]}).json()

    assert body["events"] == ["award.revoked"]


@pytest.mark.parametrize(
    "data",
    [
        {"url": "http://crm.example.com/"},
        {"url": "https://crm.example.com/", "events": ["award.exploded"]},
        {"url": 5},
        {},
    ],
)
def test_a_bad_registration_is_a_400_naming_the_field(api, data):
    response = api.post(HOOKS, data)

    assert response.status_code == 400
    assert set(response.json()) & {"url", "events"}
    assert not Endpoint.objects.exists()


def test_a_url_resolving_to_a_private_address_is_a_400_naming_url(api, monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))],
    )

    response = api.post(HOOKS, {"url": "https://intranet.example.com/"})

    assert response.status_code == 400
    assert "url" in response.json()


def test_webhooks_need_credentials(anonymous):
    assert anonymous.get(HOOKS).status_code == 401
    assert anonymous.post(HOOKS, {"url": "https://a.example.com/"}).status_code == 401


def test_webhooks_need_the_webhook_permissions(unprivileged):
    assert unprivileged.get(HOOKS).status_code == 403
    assert unprivileged.post(HOOKS, {"url": "https://a.example.com/"}).status_code == 403


def test_an_account_sees_only_its_own_endpoints(api):
    other_token = integration_account_ensure(name="other-integration")
    theirs = token_client(other_token).post(HOOKS, {"url": "https://b.example.com/"}).json()

    assert api.get(HOOKS).json()["results"] == []
    assert api.get(f"{HOOKS}{theirs['id']}/").status_code == 404
    assert api.delete(f"{HOOKS}{theirs['id']}/").status_code == 404


def test_patch_changes_url_events_and_active(api):
    created = api.post(HOOKS, {"url": "https://a.example.com/"}).json()

    response = api.patch(
        f"{HOOKS}{created['id']}/",
        {"url": "https://c.example.com/x", "events": ["award.granted"], "active": False},
    )

    assert response.status_code == 200
    assert (response.json()["url"], response.json()["events"], response.json()["active"]) == (
        "https://c.example.com/x",
        ["award.granted"],
        False,
    )


def test_patch_refuses_a_non_boolean_active(api):
    created = api.post(HOOKS, {"url": "https://a.example.com/"}).json()

    response = api.patch(f"{HOOKS}{created['id']}/", {"active": "no"})

    assert response.status_code == 400
    assert "active" in response.json()


def test_delete_removes_the_endpoint_and_its_log(api):
    created = api.post(HOOKS, {"url": "https://a.example.com/"}).json()
    endpoint_test_send(endpoint=Endpoint.objects.get(pk=created["id"]))

    assert api.delete(f"{HOOKS}{created['id']}/").status_code == 204
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


def test_the_delivery_log_lists_status_attempts_code_and_next_attempt(
    api, django_assert_max_num_queries
):
    created = api.post(HOOKS, {"url": "https://a.example.com/"}).json()
    endpoint = Endpoint.objects.get(pk=created["id"])
    for _ in range(3):
        endpoint_test_send(endpoint=endpoint)

    with django_assert_max_num_queries(6):
        response = api.get(f"{HOOKS}{created['id']}/deliveries/")

    body = response.json()
    assert body["count"] == 3
    first = body["results"][0]
    assert first["status"] == "pending" and first["attempts"] == 0
    assert {"last_response_code", "next_attempt_at", "event_type"} <= set(first)


def test_an_operator_without_webhook_permissions_is_refused(db):
    account = get_user_model().objects.create_user(username="staff", is_staff=True)
    client = token_client(Token.objects.create(user=account).key)

    assert client.get(HOOKS).status_code == 403
