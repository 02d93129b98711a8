"""Safe retries: `Idempotency-Key` on every POST under /api/.

Follows the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's behaviour (see the
README): the first response to a key, per credential account, is stored and replayed to a
repeat of the same request with `Idempotent-Replayed: true`; the same key on another request
is a 422, a key whose first request is still running a 409, a malformed key a 400.

It is a middleware, so every POST endpoint gets it without code of its own. The record and the
request's effect are written in one transaction (the view runs inside it): a crash leaves both
or neither, never a stored answer without its effect or an effect a retry would repeat.
"""

import contextlib
import hashlib
import json
import logging
import re
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db import connection as default_connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.errors import database_unavailable_response, is_database_unavailable
from core.models import KEY_MAX_LENGTH, IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Responses are kept at least this long; `purge_idempotency_keys` removes older ones.
KEY_LIFETIME = timedelta(hours=24)
# Visible ASCII, "!" to "~": no spaces, controls or other scripts.
_VALID_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")
# Headers that belong to one exchange, not to the stored answer.
_NOT_REPLAYED = {"x-request-id", "date", "set-cookie", "content-length"}
# Answers that say the request never ran (no credentials, no permission, throttled) or that
# the server failed: not stored, so a retry with the same key runs the request afresh.
_NOT_STORED = {401, 403, 429}


def _account(request: HttpRequest):
    """The Django auth account the request's credentials name, as DRF would authenticate it
    (a token, else an operator's session), or None; never raises, never counts a failure."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if parts and parts[0].lower() == "token":
        if len(parts) != 2:
            return None
        token = Token.objects.select_related("user").filter(key=parts[1]).first()
        return token.user if token is not None and token.user.is_active else None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _fingerprint(request: HttpRequest) -> str:
    """sha256 of the method, the path (trailing slash optional, query included) and the body;
    a JSON body is compared by content, so key order and spacing do not matter."""
    body = request.body
    with contextlib.suppress(ValueError, RecursionError):  # not JSON: compared as bytes
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256()
    for part in (request.method, request.path.rstrip("/"), request.META.get("QUERY_STRING", "")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _try_lock(account_id: int, key: str) -> bool:
    """Take the (account, key) lock for this transaction without waiting; False when another
    request holds it (its first request is still running)."""
    if default_connection.vendor != "postgresql":
        # SQLite runs one write transaction at a time (IMMEDIATE): a repeat waits for the first
        # to commit and is then answered with its stored response.
        return True
    digest = hashlib.sha256(f"{account_id}:{key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with default_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        return cursor.fetchone()[0]


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyKeyMiddleware:
    """Store and replay the response to a POST under /api/ that carries an Idempotency-Key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            account = _account(request)
            if account is None:
                # Keys belong to a credential account; without one the view answers 401.
                return self.get_response(request)
            if not _VALID_KEY.fullmatch(key):
                return _error(
                    400,
                    f"{HEADER} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters (no spaces).",
                )
            return self._once(request, account, key)
        except DatabaseError as exc:
            if is_database_unavailable(exc):
                logger.warning("database unavailable: %s", exc)
                return database_unavailable_response()
            raise

    def _once(self, request: HttpRequest, account, key: str) -> HttpResponse:
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            if not _try_lock(account.pk, key):
                response = _error(
                    409,
                    f"A request with this {HEADER} is still being processed; retry shortly.",
                )
                response["Retry-After"] = "1"
                return response
            record = IdempotencyRecord.objects.filter(account=account, key=key).first()
            if record is not None and record.created_at < timezone.now() - KEY_LIFETIME:
                record.delete()  # expired and not purged yet: the key is free again
                record = None
            if record is not None:
                if record.fingerprint != fingerprint:
                    return _error(
                        422,
                        f"This {HEADER} was used for a different request; "
                        "use a new key for a new request.",
                    )
                logger.info("idempotent replay of %s for %s", key, account.get_username())
                return _replay(record)
            record = IdempotencyRecord.objects.create(
                account=account, key=key, fingerprint=fingerprint
            )
            response = self.get_response(request)
            if (
                response.status_code >= 500
                or response.status_code in _NOT_STORED
                or response.streaming
            ):
                # Neither the record nor anything the request did is kept.
                transaction.set_rollback(True)
                return response
            record.state = IdempotencyRecord.State.DONE
            record.status_code = response.status_code
            record.headers = {
                name: value for name, value in response.items() if name.lower() not in _NOT_REPLAYED
            }
            record.body = response.content
            record.save(update_fields=["state", "status_code", "headers", "body"])
            return response


def idempotency_records_purge(*, older_than: timedelta = KEY_LIFETIME) -> int:
    """Delete the stored responses created more than `older_than` ago (never less than the
    24 hours they are promised for); returns how many were removed."""
    older_than = max(older_than, KEY_LIFETIME)
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    logger.info("idempotency keys purged: %s", deleted)
    return deleted
