"""Fixtures of the webhooks tests that deliver to a receiver on loopback."""

import pytest

from tests.factories import OperatorFactory


@pytest.fixture
def loopback_allowed(settings):
    """Deliveries may go to the test's receiver on 127.0.0.1 over plain HTTP (the SSRF checks
    refuse both by default, and test_addresses.py keeps them refusing)."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 5


@pytest.fixture
def owner(db):
    """The operator who registers the endpoints."""
    return OperatorFactory()
