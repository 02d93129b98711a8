"""Every event goes in through `events_record`: the API, the demo seeding and the benchmarks
call it, so the measures cannot drift between write paths.

Lock order (the project's order, written at the top of `achievements/services/awards.py`,
extended): a batch of events holds
  0. a lock per event type it carries, shared (a rule change of that type takes it
     exclusively, so a batch sees every rule of its types, or waits for a change to commit);
  1. the achievement rows of those types' rules, shared (their goal and rule stay put);
  2. the rows of the users it names, in ascending id (`FOR UPDATE`), so the per-user measures
     and progress are recomputed by one batch at a time per user;
  3. then the unique index entries of its event ids, in ascending id order (the insert is
     sorted), so two batches that share ids wait on each other in one order, never in a cycle;
  4. then the per-day, measure and progress rows of those users, which only holders of (2)
     touch; a goal reached grants through `award_grant`, which takes (1) and (2) again.
A change of a user's time zone takes (0) for the types of that user's measures and (1) for
their rules before `user_update` holds the user's row (2), then rewrites that user's rows (4);
see `user_time_zone_change`.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.consistency import Mismatch
from core.db import event_types_lock, event_types_try_lock_shared, statement_timeout_lift
from core.errors import DomainConflict
from events.models import EVENT_ID_MAX_LENGTH, EVENT_TYPE_REGEX, MAX_VALUE
from events.queries import (
    event_days_add,
    event_days_rebuild,
    event_types_of_user,
    events_insert,
    measures_expected,
    measures_rebuild_all,
    measures_refresh,
    measures_refresh_figures,
    measures_stored,
    users_lock_by_name,
)
from events.rules import (
    AcceptedEvent,
    rules_apply_to_batch,
    rules_apply_to_user,
    rules_lock_for_types,
)
from users.models import USERNAME_MAX_LENGTH, USERNAME_REGEX, User

logger = logging.getLogger(__name__)

# The most events one call takes: the API's batch limit, and what one SQL statement can carry
# within SQLite's 32,766 parameters.
EVENTS_PER_CALL = 1000
# Nothing happened before the Unix epoch; far-past values overflow time-zone arithmetic.
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)

_TYPE = re.compile(EVENT_TYPE_REGEX)
_USERNAME = re.compile(USERNAME_REGEX)
_KNOWN_FIELDS = ("id", "user", "type", "value", "occurred_at")


@dataclass
class EventResult:
    """What became of one event of a batch, in request order."""

    id: object
    status: str  # "accepted", "duplicate" or "rejected"
    errors: dict[str, list[str]] | None = None
    unlocked: list[str] = field(default_factory=list)


@dataclass
class _Clean:
    index: int
    event_id: str
    username: str
    type: str
    value: int
    occurred_at: datetime
    user_id: int | None = None
    day: date | None = None


def event_day(occurred_at: datetime, zone: tzinfo | str) -> date:
    """The calendar day an event counts on: its moment in `zone`, its user's time zone (a
    tzinfo or an IANA name). Rebuilds take the same day in SQL (events.queries)."""
    return occurred_at.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).date()


def _text(raw: dict, name: str, errors: dict, *, max_length: int) -> str | None:
    value = raw.get(name)
    if name not in raw or value is None:
        errors[name] = ["This field is required."]
    elif not isinstance(value, str):
        errors[name] = ["Give text (a JSON string)."]
    elif not value:
        errors[name] = ["This field may not be blank."]
    elif len(value) > max_length:
        errors[name] = [f"Ensure this field has no more than {max_length} characters."]
    elif "\x00" in value:
        errors[name] = ["Null characters are not allowed."]
    else:
        return value
    return None


def _occurred_at(raw: dict, errors: dict, now: datetime) -> datetime | None:
    value = raw.get("occurred_at")
    if value is None:
        return now
    if not isinstance(value, str):
        errors["occurred_at"] = ["Give a date and time as an ISO 8601 string."]
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        errors["occurred_at"] = ["Datetime has wrong format. Use ISO 8601."]
        return None
    if timezone.is_naive(moment):
        # As for award times: a moment without a zone is read in TIME_ZONE.
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    if moment > now:
        errors["occurred_at"] = ["An event cannot be dated in the future."]
    elif moment < EARLIEST_EVENT:
        errors["occurred_at"] = ["An event cannot be dated before 1970."]
    else:
        return moment
    return None


def event_validate(raw: object, *, index: int, now: datetime) -> _Clean | dict[str, list[str]]:
    """One event's fields checked as sent (strict types, no coercion): the clean event, or
    its errors by field name."""
    if not isinstance(raw, dict):
        return {"non_field_errors": ["Give each event as a JSON object."]}
    errors: dict[str, list[str]] = {}
    event_id = _text(raw, "id", errors, max_length=EVENT_ID_MAX_LENGTH)
    username = _text(raw, "user", errors, max_length=USERNAME_MAX_LENGTH)
    if username is not None and not _USERNAME.match(username):
        errors["user"] = [f"Unknown user {username!r}."]
    type_ = raw.get("type")
    if "type" not in raw or type_ is None:
        errors["type"] = ["This field is required."]
    elif not isinstance(type_, str) or not _TYPE.match(type_):
        errors["type"] = [
            "Give an event type of 1 to 64 lowercase letters, digits, dots, hyphens and "
            "underscores."
        ]
    value = raw.get("value", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        errors["value"] = ["Give a whole number (a JSON integer)."]
    elif not 0 <= value <= MAX_VALUE:
        errors["value"] = [f"Give a value from 0 to {MAX_VALUE:,}."]
    occurred_at = _occurred_at(raw, errors, now)
    if errors:
        return errors
    return _Clean(
        index=index,
        event_id=event_id,
        username=username,
        type=type_,
        value=value,
        occurred_at=occurred_at,
    )


def _result_id(raw: object) -> object:
    """The id to echo for an event: as sent when it is text, else null."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return raw["id"]
    return None


@transaction.atomic
def events_record(
    *, events: Sequence[object], by: AbstractBaseUser | None = None
) -> list[EventResult]:
    """Store each valid event whose id is new and bring its user's measures up to date, in one
    transaction; returns one result per event, in order. A bad event is rejected alone; an id
    stored before (or earlier in the same batch) is a duplicate and changes nothing."""
    if len(events) > EVENTS_PER_CALL:
        raise ValueError(f"At most {EVENTS_PER_CALL} events per call.")
    now = timezone.now()
    results: list[EventResult] = []
    clean: list[_Clean] = []
    for index, raw in enumerate(events):
        checked = event_validate(raw, index=index, now=now)
        if isinstance(checked, dict):
            results.append(EventResult(id=_result_id(raw), status="rejected", errors=checked))
        else:
            results.append(EventResult(id=checked.event_id, status="accepted"))
            clean.append(checked)

    # The lock order (see the module docstring): event types, rules, users, event ids.
    types = sorted({event.type for event in clean})
    event_types_lock(types, shared=True)
    rules = rules_lock_for_types(types)
    users = users_lock_by_name(event.username.lower() for event in clean)
    first_of_id: dict[str, _Clean] = {}
    for event in clean:
        user = users.get(event.username.lower())
        if user is None:
            results[event.index].status = "rejected"
            results[event.index].errors = {"user": [f"Unknown user {event.username!r}."]}
        elif event.event_id in first_of_id:
            # The same id twice in one batch: the first one counts.
            results[event.index].status = "duplicate"
        else:
            first_of_id[event.event_id] = event
            event.user_id = user[0]
            # The day in the user's zone, as held under their row lock (a zone change waits).
            event.day = event_day(event.occurred_at, user[1])

    sent_by_id = by.pk if by is not None and by.pk is not None else None
    inserted = events_insert(
        [
            (e.event_id, e.user_id, e.type, e.value, e.occurred_at, sent_by_id)
            for e in first_of_id.values()
        ],
        received_at=now,
    )
    accepted = []
    for event in first_of_id.values():
        if event.event_id in inserted:
            accepted.append(event)
        else:
            results[event.index].status = "duplicate"

    ruled = [
        AcceptedEvent(
            index=e.index,
            user_id=e.user_id,
            type=e.type,
            value=e.value,
            occurred_at=e.occurred_at,
            day=e.day,
        )
        for e in accepted
        if e.type in {rule.event for rule in rules}
    ]
    before, after = _measures_add(accepted, figures=bool(ruled))
    unlocked = rules_apply_to_batch(rules=rules, accepted=ruled, before=before, after=after, by=by)
    for index, codes in unlocked.items():
        results[index].unlocked = codes
    counts = {status: 0 for status in ("accepted", "duplicate", "rejected")}
    for result in results:
        counts[result.status] += 1
    logger.info(
        "events recorded: %s accepted, %s duplicate, %s rejected, sent by %s",
        counts["accepted"],
        counts["duplicate"],
        counts["rejected"],
        by.get_username() if by is not None else "system",
    )
    return results


def _measures_add(
    accepted: list[_Clean], *, figures: bool
) -> tuple[dict[tuple[int, str], dict], dict[tuple[int, str], dict]]:
    """Fold newly stored events into the per-day rows, then recompute the measures of the
    (user, type) pairs they touch from those rows (set-based: two statements per batch);
    with `figures`, answer the figures rules read before and after, by pair."""
    days: dict[tuple[int, str, date], list] = {}
    for event in accepted:
        key = (event.user_id, event.type, event.day)
        row = days.get(key)
        if row is None:
            days[key] = [1, event.value, event.occurred_at]
        else:
            row[0] += 1
            row[1] += event.value
            row[2] = max(row[2], event.occurred_at)
    event_days_add([(*key, *row) for key, row in sorted(days.items())])
    pairs = sorted({(user_id, type_) for user_id, type_, _day in days})
    if figures:
        return measures_refresh_figures(pairs)
    return {}, measures_refresh(pairs)


class TimeZoneChangeConflict(DomainConflict):
    """A rule of one of the user's event types is being changed right now."""


def user_time_zone_change_locks(user: User) -> None:
    """Before `user_update` holds the user's row for a new zone: the locks that come first in
    the lock order, for what the change will recompute. The user's event types, shared (a
    rule change of those types waits, and is waited for), then their rules' achievement rows,
    shared. Registered in users.services.TIME_ZONE_CHANGE_LOCKS."""
    types = event_types_of_user(user.pk)
    event_types_lock(types, shared=True)
    rules_lock_for_types(types)


@transaction.atomic
def user_time_zone_change(user: User) -> None:
    """Move the user's events to the days of their new zone: per-day rows, measures, progress
    toward every rule of their event types, and a grant (dated now) of what a measure now
    reaches. An award already held stays, even if its measure now falls short of the goal.

    Registered in users.services.TIME_ZONE_CHANGE_HOOKS: `user_update` calls it in its
    transaction, with the user's row held and the locks of `user_time_zone_change_locks`
    taken before it."""
    types = event_types_of_user(user.pk)
    # A batch that brought the user a new event type may have committed between the locks
    # above and the user's row: its type lock cannot be waited for now (it comes first in the
    # lock order), so it is only tried, and a rule change of that type in flight is a conflict.
    if not event_types_try_lock_shared(types):
        raise TimeZoneChangeConflict(
            "A rule of this user's events is being changed; try the time zone again."
        )
    rules = rules_lock_for_types(types)
    event_days_rebuild(user.pk)
    measures_refresh([(user.pk, type_) for type_ in types])
    granted = rules_apply_to_user(rules=rules, user_id=user.pk)
    logger.info(
        "events of %s moved to zone %s: %s type(s), granted %s",
        user.username,
        user.time_zone,
        len(types),
        ", ".join(granted) or "nothing",
    )


def _mismatches(stored: dict, expected: dict, names: dict[int, str]) -> list[Mismatch]:
    missing = dict.fromkeys(
        ("event_count", "value_sum", "days", "longest_streak", "last_occurred_at")
    )
    return [
        Mismatch(
            name=f"{names.get(key[0], key[0])} · {key[1]}",
            stored=stored.get(key, missing),
            expected=expected.get(key, missing),
        )
        for key in sorted(set(stored) | set(expected), key=lambda k: (names.get(k[0], ""), k[1]))
        if stored.get(key) != expected.get(key)
    ]


def _usernames(keys) -> dict[int, str]:
    ids = {user_id for user_id, _type in keys}
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "username")) if ids else {}


@transaction.atomic
def measures_check() -> list[Mismatch]:
    """Every (user, event type) whose stored measures differ from what the raw events give;
    changes nothing."""
    statement_timeout_lift()
    stored, expected = measures_stored(), measures_expected()
    differing = {k for k in set(stored) | set(expected) if stored.get(k) != expected.get(k)}
    return _mismatches(
        {k: stored[k] for k in differing if k in stored},
        {k: expected[k] for k in differing if k in expected},
        _usernames(differing),
    )


@transaction.atomic
def measures_rebuild() -> list[Mismatch]:
    """Recompute every per-day row and measure from the raw events (set-based); return what
    was wrong."""
    statement_timeout_lift()
    # Hold every user (ascending id, the documented order) so no batch commits measures that
    # this rebuild would overwrite with what it computed before.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    mismatches = measures_check()
    event_days_rebuild()
    measures_rebuild_all()
    logger.info("measures rebuilt: %s (user, type) pair(s) corrected", len(mismatches))
    return mismatches
