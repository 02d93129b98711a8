"""Every change to webhook endpoints and deliveries.

Deliveries are derived from the activity feed, not written beside each entry: the worker moves
each endpoint's cursor over the feed (which never skips, see achievements.services.awards) and
creates that endpoint's deliveries in the same transaction as the cursor move. A crash before
that commit leaves the cursor where it was, so the entries are planned again; nothing is lost
and nothing is planned twice. The award path therefore knows nothing of webhooks.

A delivery is claimed by moving its `next_attempt_at` a lease ahead (WEBHOOK_CLAIM_SECONDS) in a
short transaction; the HTTP call runs outside any transaction, so a hanging receiver holds no
lock. A worker killed mid-attempt leaves the lease to expire, and the delivery is due again.
"""

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from achievements.models import Activity
from achievements.selectors import activity_after, activity_head
from achievements.serializers import ActivitySerializer
from webhooks.addresses import url_resolve
from webhooks.models import EVENT_TYPES, TEST_EVENT, Delivery, Endpoint, WorkerHeartbeat
from webhooks.signing import headers, secret_generate
from webhooks.transport import Outcome, post

logger = logging.getLogger(__name__)

# After a failed attempt n (1-based), the next one waits RETRY_DELAYS[n - 1]; after the last
# delay (about 27.6 hours after the first attempt) a failure is final. As Svix schedules them.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# An endpoint whose every attempt has failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)


def _events_validate(events: object) -> list[str]:
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ValidationError({"events": ["Give a list of event types."]})
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(
            {"events": [f"Unknown event type(s) {', '.join(unknown)}; use {EVENT_TYPES}."]}
        )
    return sorted(set(events))


@transaction.atomic
def endpoint_create(
    *, owner: AbstractBaseUser, url: str, events: list[str] | None = None
) -> Endpoint:
    """Register `url` for `owner` (URL checked: scheme and public addresses); it receives the
    activity committed from now on. The new secret is on the returned endpoint."""
    url_resolve(url)
    endpoint = Endpoint.objects.create(
        owner=owner,
        url=url,
        events=_events_validate(events or []),
        secret=secret_generate(),
        cursor=activity_head(),
    )
    logger.info("webhook endpoint %s registered by %s", endpoint.pk, owner.get_username())
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> Endpoint:
    """Change an endpoint's URL (checked again), event filter or active flag. Reactivating it
    clears why it was disabled and sends the activity from now on (pending deliveries resume)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        url_resolve(url)
        endpoint.url = url
    if events is not None:
        endpoint.events = _events_validate(events)
    if active is not None and active != endpoint.active:
        endpoint.active = active
        if active:
            endpoint.cursor = activity_head()
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Remove an endpoint and its delivery log."""
    endpoint.delete()


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint) -> str:
    """Give the endpoint a new secret and return it; later attempts are signed with it."""
    secret = secret_generate()
    Endpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    logger.info("webhook endpoint %s: secret rotated", endpoint.pk)
    return secret


def _body(event_type: str, data: dict) -> str:
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@transaction.atomic
def endpoint_test_send(*, endpoint: Endpoint) -> Delivery:
    """Queue a `webhook.test` message to the endpoint, sent by the worker like any other."""
    return Delivery.objects.create(
        endpoint=endpoint,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=TEST_EVENT,
        body=_body(TEST_EVENT, {"endpoint": endpoint.pk}),
        next_attempt_at=timezone.now(),
    )


def deliveries_plan(*, limit: int = 500) -> int:
    """Turn new feed entries into deliveries for every active endpoint another worker is not
    planning right now; returns how many deliveries were created."""
    head = activity_head()
    created = 0
    bodies: dict[int, str] = {}  # one body per entry, whatever the number of endpoints

    def body_of(entry: Activity) -> str:
        if entry.pk not in bodies:
            bodies[entry.pk] = _body(entry.type, ActivitySerializer(entry).data)
        return bodies[entry.pk]

    with transaction.atomic():
        endpoints = list(
            Endpoint.objects.select_for_update(skip_locked=True)
            .filter(active=True, cursor__lt=head)
            .order_by("id")
        )
        now = timezone.now()
        for endpoint in endpoints:
            entries = activity_after(after=endpoint.cursor, limit=limit)
            if not entries:
                continue
            deliveries = [
                Delivery(
                    endpoint=endpoint,
                    message_id=f"msg_{endpoint.pk}_{entry.pk}",
                    event_type=entry.type,
                    activity_id=entry.pk,
                    body=body_of(entry),
                    next_attempt_at=now,
                )
                for entry in entries
                if endpoint.wants(entry.type)
            ]
            Delivery.objects.bulk_create(deliveries)
            created += len(deliveries)
            endpoint.cursor = entries[-1].pk
        Endpoint.objects.bulk_update(endpoints, ["cursor"])
    return created


def deliveries_claim(*, limit: int) -> list[Delivery]:
    """Claim up to `limit` due deliveries of active endpoints for one lease; a delivery claimed
    by one worker is not due for any other until its lease ends."""
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(status=Delivery.PENDING, next_attempt_at__lte=now, endpoint__active=True)
            .order_by("next_attempt_at", "id")[:limit]
        )
        lease_end = now + timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
        for delivery in claimed:
            delivery.attempts += 1
            delivery.next_attempt_at = lease_end
        Delivery.objects.bulk_update(claimed, ["attempts", "next_attempt_at"])
    return claimed


def delivery_attempt(delivery: Delivery) -> Outcome:
    """Send one claimed delivery (no database access: safe in a thread)."""
    endpoint = delivery.endpoint
    timestamp = int(timezone.now().timestamp())
    outcome = post(
        endpoint.url,
        headers=headers(
            secret=endpoint.secret,
            message_id=delivery.message_id,
            timestamp=timestamp,
            body=delivery.body,
        ),
        body=delivery.body,
    )
    logger.info(
        "webhook %s to endpoint %s, attempt %s: %s",
        delivery.message_id,
        endpoint.pk,
        delivery.attempts,
        outcome.status or outcome.error,
    )
    return outcome


@transaction.atomic
def deliveries_record(results: Iterable[tuple[Delivery, Outcome]]) -> None:
    """Store what the attempts got: delivered, due again after the next retry delay, or failed;
    and track each endpoint's failures, disabling one that has failed for DISABLE_AFTER."""
    now = timezone.now()
    endpoint_ok: dict[int, bool] = {}
    # Deliveries with the same outcome are recorded by one UPDATE.
    groups: dict[tuple, list[int]] = {}
    for delivery, outcome in results:
        if outcome.ok:
            status, next_attempt_at = Delivery.DELIVERED, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            status, next_attempt_at = Delivery.FAILED, None
        else:
            status, next_attempt_at = Delivery.PENDING, now + RETRY_DELAYS[delivery.attempts - 1]
        key = (status, next_attempt_at, outcome.status, outcome.error, delivery.attempts)
        groups.setdefault(key, []).append(delivery.pk)
        endpoint_ok[delivery.endpoint_id] = endpoint_ok.get(delivery.endpoint_id) or outcome.ok
    for (status, next_attempt_at, code, error, attempts), ids in groups.items():
        # Only while this worker's claim holds: a lease that ran out belongs to another worker,
        # which has counted one attempt more.
        Delivery.objects.filter(pk__in=ids, attempts=attempts, status=Delivery.PENDING).update(
            status=status,
            next_attempt_at=next_attempt_at,
            last_response_code=code,
            last_error=error,
            delivered_at=now if status == Delivery.DELIVERED else None,
        )
    for endpoint_id in sorted(endpoint_ok):  # ascending id: concurrent recorders cannot deadlock
        if endpoint_ok[endpoint_id]:
            Endpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
            continue
        Endpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
            failing_since=now
        )
        disabled = Endpoint.objects.filter(
            pk=endpoint_id, active=True, failing_since__lte=now - DISABLE_AFTER
        ).update(
            active=False,
            disabled_reason=f"Disabled at {now:%Y-%m-%d %H:%M} UTC: every delivery attempt "
            f"failed for {DISABLE_AFTER.days} days.",
        )
        if disabled:
            logger.warning("webhook endpoint %s disabled after failing too long", endpoint_id)


def deliveries_work(*, limit: int, run: Callable = map) -> int:
    """One round of the worker: plan new deliveries, claim up to `limit` due ones, attempt them
    (through `run`, e.g. a thread pool's map), record the outcomes; returns how many were
    attempted."""
    deliveries_plan()
    claimed = deliveries_claim(limit=limit)
    if claimed:
        outcomes = list(run(delivery_attempt, claimed))
        deliveries_record(zip(claimed, outcomes, strict=True))
    return len(claimed)


def worker_heartbeat(*, name: str) -> None:
    """Record that the worker `name` is alive now."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


def worker_heartbeat_forget(*, name: str) -> None:
    """Remove a stopped worker's heartbeat."""
    WorkerHeartbeat.objects.filter(name=name).delete()
