"""Signatures as the Standard Webhooks reference library checks them."""

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks.signing import headers, secret_generate


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    first, second = secret_generate(), secret_generate()

    assert first.startswith("whsec_") and first != second
    assert len(Webhook(first)._whsecret) == 32


def test_the_reference_library_accepts_our_signature():
    secret, body = secret_generate(), '{"type":"award.granted","data":{}}'
    now = int(datetime.now(UTC).timestamp())

    signed = headers(secret=secret, message_id="msg_1", timestamp=now, body=body)

    assert Webhook(secret).verify(body, signed) == {"type": "award.granted", "data": {}}
    assert signed["webhook-signature"] == Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), body
    )


def test_the_reference_library_refuses_a_changed_body():
    secret = secret_generate()
    now = int(datetime.now(UTC).timestamp())
    signed = headers(secret=secret, message_id="msg_1", timestamp=now, body='{"a":1}')

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', signed)
