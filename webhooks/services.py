"""Every change to webhook endpoints and deliveries.

Deliveries are derived from the activity feed, not written beside each entry: the worker moves
each endpoint's cursor over the feed (which never skips, see achievements.services.awards) and
creates that endpoint's deliveries in the same transaction as the cursor move, together with the
tasks that send them (`webhooks.tasks.deliver`, Django's Tasks framework; its database backend
keeps tasks in the same database, so they commit or roll back with the rest). A crash before
that commit leaves the cursor where it was, so the entries are planned again; nothing is lost
and nothing is planned twice. The award path therefore knows nothing of webhooks.

A task sends a batch of one endpoint's deliveries that have all had the same number of attempts
(`deliveries_send`). The HTTP calls run outside any transaction, so a hanging receiver holds no
lock. The outcomes are recorded only for the deliveries still at that number of attempts, so a
task run twice (its worker died after recording) records each attempt once; the retries are
enqueued, in the same transaction, as a task that runs after the retry delay.

Row locks: recording locks a batch's deliveries, then updates their endpoint; parking and
reactivation lock the endpoint, then update its parked deliveries, which no running task holds
(a delivery has one task at a time), so the two orders never meet on the same rows. Planning
skips endpoints another transaction has locked.
"""

import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from achievements.selectors import activity_after, activity_head
from achievements.serializers import ActivitySerializer
from webhooks.addresses import url_resolve
from webhooks.models import EVENT_TYPES, TEST_EVENT, Delivery, Endpoint, WorkerHeartbeat
from webhooks.signing import headers, secret_generate
from webhooks.transport import Outcome, Target, post, resolve

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
            _parked_resume(endpoint)
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


def _enqueue(delivery_ids: list[int], *, attempts: int, run_after: datetime | None = None) -> None:
    """Enqueue the tasks sending `delivery_ids` (one endpoint's, each with `attempts` so far),
    WORKER_BATCH deliveries per task; inside the caller's transaction."""
    from webhooks.tasks import deliver  # the task module imports this one

    task = deliver.using(run_after=run_after) if run_after else deliver
    batch = settings.WORKER_BATCH
    for start in range(0, len(delivery_ids), batch):
        task.enqueue(delivery_ids[start : start + batch], attempts)


@transaction.atomic
def endpoint_test_send(*, endpoint: Endpoint) -> Delivery:
    """Queue a `webhook.test` message to the endpoint, sent by the worker like any other."""
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=TEST_EVENT,
        body=_body(TEST_EVENT, {"endpoint": endpoint.pk}),
        next_attempt_at=timezone.now(),
    )
    _enqueue([delivery.pk], attempts=0)
    return delivery


def deliveries_plan(*, limit: int = 500) -> int:
    """Turn new feed entries into deliveries, and the tasks that send them, for every active
    endpoint another worker is not planning right now; returns how many deliveries were
    created. The feed is read once for all the endpoints."""
    head = activity_head()
    with transaction.atomic():
        endpoints = list(
            Endpoint.objects.select_for_update(skip_locked=True)
            .filter(active=True, cursor__lt=head)
            .order_by("id")
        )
        if not endpoints:
            return 0
        entries = activity_after(after=min(e.cursor for e in endpoints), limit=limit)
        if not entries:
            return 0
        now = timezone.now()
        bodies = {entry.pk: _body(entry.type, ActivitySerializer(entry).data) for entry in entries}
        planned: list[tuple[Endpoint, list[Delivery]]] = []
        for endpoint in endpoints:
            mine = [entry for entry in entries if entry.pk > endpoint.cursor]
            if not mine:
                continue
            deliveries = [
                Delivery(
                    endpoint=endpoint,
                    message_id=f"msg_{endpoint.pk}_{entry.pk}",
                    event_type=entry.type,
                    activity_id=entry.pk,
                    body=bodies[entry.pk],
                    next_attempt_at=now,
                )
                for entry in mine
                if endpoint.wants(entry.type)
            ]
            planned.append((endpoint, deliveries))
            endpoint.cursor = mine[-1].pk
        Delivery.objects.bulk_create([d for _, deliveries in planned for d in deliveries])
        for _, deliveries in planned:
            if deliveries:
                _enqueue([d.pk for d in deliveries], attempts=0)
        Endpoint.objects.bulk_update(endpoints, ["cursor"])
    return sum(len(deliveries) for _, deliveries in planned)


def _parked_resume(endpoint: Endpoint) -> None:
    """Enqueue the deliveries a task left for `endpoint` while it was inactive (the caller holds
    the endpoint's row lock, as `_park` does)."""
    parked = Delivery.objects.filter(
        endpoint=endpoint, status=Delivery.PENDING, next_attempt_at__isnull=True
    )
    by_attempts: dict[int, list[int]] = {}
    for pk, attempts in parked.order_by("id").values_list("pk", "attempts"):
        by_attempts.setdefault(attempts, []).append(pk)
    for attempts, ids in by_attempts.items():
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
        _enqueue(ids, attempts=attempts)


@transaction.atomic
def _park(endpoint: Endpoint, delivery_ids: list[int], attempts: int) -> bool:
    """Leave the deliveries of an inactive endpoint without a task (`next_attempt_at` empty)
    until it is reactivated; False if it was reactivated meanwhile. Under the endpoint's row
    lock, so a reactivation either sees them parked or is seen here."""
    if Endpoint.objects.select_for_update().filter(pk=endpoint.pk, active=True).exists():
        return False
    Delivery.objects.filter(pk__in=delivery_ids, attempts=attempts, status=Delivery.PENDING).update(
        next_attempt_at=None
    )
    return True


def delivery_attempt(delivery: Delivery, *, target: Target | None = None) -> Outcome:
    """Send one delivery (no database access: safe in a thread), to `target` when the
    endpoint's URL was resolved and checked for this batch."""
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
        target=target,
    )
    logger.info(
        "webhook %s to endpoint %s, attempt %s: %s",
        delivery.message_id,
        endpoint.pk,
        delivery.attempts + 1,
        outcome.status or outcome.error,
    )
    return outcome


def _attempt_batch(endpoint: Endpoint, deliveries: list[Delivery]) -> list[Outcome]:
    """Attempt one endpoint's deliveries, WEBHOOK_CONNECTIONS at a time. The URL is resolved and
    checked once for the batch. Once an attempt gets no answer at all (refused, timed out), the
    attempts not yet started are not made and fail with it: a dead receiver costs one timeout
    per batch, not one per message."""
    target = resolve(endpoint.url)
    if isinstance(target, Outcome):
        return [target] * len(deliveries)
    unreachable: list[Outcome] = []
    lock = threading.Lock()

    def attempt(delivery: Delivery) -> Outcome:
        with lock:
            if unreachable:
                return Outcome(None, f"Not sent: {unreachable[0].error}"[:500])
        outcome = delivery_attempt(delivery, target=target)
        if outcome.status is None:
            with lock:
                unreachable.append(outcome)
        return outcome

    parallel = min(settings.WEBHOOK_CONNECTIONS, len(deliveries))
    if parallel <= 1:
        return [attempt(delivery) for delivery in deliveries]
    with ThreadPoolExecutor(parallel, thread_name_prefix="webhook-post") as pool:
        return list(pool.map(attempt, deliveries))


def deliveries_send(*, delivery_ids: list[int], attempts: int) -> int:
    """The body of a delivery task: attempt those of `delivery_ids` still pending after
    `attempts` attempts, and record the outcomes; returns how many were attempted. Running it
    again after it recorded does nothing, so a task run twice counts each attempt once."""
    deliveries = list(
        Delivery.objects.select_related("endpoint")
        .filter(pk__in=delivery_ids, attempts=attempts, status=Delivery.PENDING)
        .order_by("id")
    )
    if not deliveries:
        return 0
    endpoint = deliveries[0].endpoint
    if not endpoint.active and _park(endpoint, [d.pk for d in deliveries], attempts):
        return 0
    outcomes = _attempt_batch(endpoint, deliveries)
    deliveries_record(endpoint, deliveries, outcomes, attempts=attempts)
    return len(deliveries)


@transaction.atomic
def deliveries_record(
    endpoint: Endpoint, deliveries: list[Delivery], outcomes: list[Outcome], *, attempts: int
) -> None:
    """Store what one batch's attempts got: delivered, due again after the next retry delay (a
    task enqueued for then), or failed; and track the endpoint's failures, disabling it once it
    has failed for DISABLE_AFTER. Only deliveries still at `attempts` are recorded."""
    now = timezone.now()
    ids = [d.pk for d in deliveries]
    mine = set(
        Delivery.objects.select_for_update()
        .filter(pk__in=ids, attempts=attempts, status=Delivery.PENDING)
        .values_list("pk", flat=True)
    )
    tried = attempts + 1
    retry_at = now + RETRY_DELAYS[attempts] if tried < MAX_ATTEMPTS else None
    # Deliveries with the same outcome are recorded by one UPDATE.
    groups: dict[tuple, list[int]] = {}
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        if delivery.pk in mine:
            groups.setdefault((outcome.ok, outcome.status, outcome.error), []).append(delivery.pk)
    retries: list[int] = []
    for (ok, code, error), group in groups.items():
        if ok:
            status, next_attempt_at = Delivery.DELIVERED, None
        elif retry_at is None:
            status, next_attempt_at = Delivery.FAILED, None
        else:
            status, next_attempt_at = Delivery.PENDING, retry_at
            retries.extend(group)
        Delivery.objects.filter(pk__in=group).update(
            attempts=tried,
            status=status,
            next_attempt_at=next_attempt_at,
            last_response_code=code,
            last_error=error,
            delivered_at=now if ok else None,
        )
    if retries:
        _enqueue(sorted(retries), attempts=tried, run_after=retry_at)
    if not mine:
        return
    if any(outcome.ok for outcome in outcomes):
        if endpoint.failing_since is not None:
            Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
                failing_since=None
            )
        return
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    disabled = Endpoint.objects.filter(
        pk=endpoint.pk, active=True, failing_since__lte=now - DISABLE_AFTER
    ).update(
        active=False,
        disabled_reason=f"Disabled at {now:%Y-%m-%d %H:%M} UTC: every delivery attempt "
        f"failed for {DISABLE_AFTER.days} days.",
    )
    if disabled:
        logger.warning("webhook endpoint %s disabled after failing too long", endpoint.pk)


def worker_heartbeat(*, name: str) -> None:
    """Record that the worker `name` is alive now."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


def worker_heartbeat_forget(*, name: str) -> None:
    """Remove a stopped worker's heartbeat."""
    WorkerHeartbeat.objects.filter(name=name).delete()
