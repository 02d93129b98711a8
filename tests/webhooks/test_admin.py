"""The webhook admin: endpoints with their delivery log, a test event, a new secret."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from tests.factories import OperatorFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create, endpoint_test_send

ENDPOINTS = "/admin/webhooks/endpoint/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return endpoint_create(owner=OperatorFactory(), url="http://127.0.0.1:9/hook")


def test_the_send_test_event_action_queues_a_test_delivery(admin_client, endpoint):
    response = admin_client.post(
        ENDPOINTS, {"action": "send_test_event", ACTION_CHECKBOX_NAME: [endpoint.pk]}
    )

    assert response.status_code == 302
    assert list(Delivery.objects.values_list("event_type", flat=True)) == ["webhook.test"]


def test_the_rotate_action_shows_the_new_secret_once(admin_client, endpoint):
    response = admin_client.post(
        ENDPOINTS, {"action": "rotate_secret", ACTION_CHECKBOX_NAME: [endpoint.pk]}, follow=True
    )

    secret = Endpoint.objects.get().secret
    assert secret != endpoint.secret
    assert secret in response.content.decode()
    assert secret not in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()


def test_the_change_page_shows_the_delivery_log_and_why_it_was_disabled(admin_client, endpoint):
    endpoint_test_send(endpoint=endpoint)
    Endpoint.objects.update(active=False, disabled_reason="Every attempt failed for 5 days.")

    page = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()

    assert "webhook.test" in page
    assert "Every attempt failed for 5 days." in page
    assert endpoint.secret not in page


def test_adding_an_endpoint_refuses_a_private_address(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    owner = OperatorFactory()

    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {
            "owner": owner.pk,
            "url": "http://127.0.0.1:9/",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert not Endpoint.objects.exists()


def test_adding_an_endpoint_shows_its_secret_once(admin_client, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    owner = OperatorFactory()

    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {
            "owner": owner.pk,
            "url": "http://127.0.0.1:9/",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()
