"""The demo players' events: a believable few weeks of logins, lessons and practice, sent
through `events_record` like any integration's, so the rule-driven demo achievements are
earned, dated and measured the way real ones are.

Registered in achievements.seeding.DEMO_SEED_STEPS (the seeding sits below this app). Only the
demo players get events, never the benchmark bulk users, so seeding stays fast. The history is
fixed by the seed; event ids are too, so a rerun sends only duplicates and adds nothing.
"""

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from achievements.seeding import load_catalog
from events.services import EVENTS_PER_CALL, events_record
from users.models import User

# How many of the last 42 days each demo profile is active on (a streaker's run is extra).
_ACTIVE_SHARE = {
    "leader_count": 0.65,
    "leader_points": 0.55,
    "streaker": 0.25,
    "regular": 0.3,
    "newcomer": 0.0,
    "idle": 0.0,
}


def _active_days(profile: str, today: date, rng: random.Random) -> list[date]:
    days = {
        today - timedelta(days=d)
        for d in range(1, 43)
        if rng.random() < _ACTIVE_SHARE.get(profile, 0)
    }
    if profile == "streaker":
        # A run of daily lessons ending today or yesterday.
        end = today - timedelta(days=rng.randint(0, 1))
        days |= {end - timedelta(days=d) for d in range(rng.randint(5, 16))}
    elif profile == "newcomer":
        days |= {today - timedelta(days=d) for d in rng.sample(range(5), rng.randint(1, 3))}
    return sorted(days)


def _at(day: date, hour: int, rng: random.Random, zone: ZoneInfo, now: datetime) -> datetime:
    """A moment on `day` in the player's zone, never later than now."""
    moment = datetime.combine(day, time(hour, rng.randint(0, 59)), tzinfo=zone)
    return min(moment, now - timedelta(minutes=rng.randint(1, 30)))


def _history(user: User, profile: str, rng: random.Random, now: datetime) -> list[dict]:
    zone = ZoneInfo(user.time_zone)
    today = now.astimezone(zone).date()
    events = []
    for day in _active_days(profile, today, rng):
        start = rng.randint(7, 19)
        events.append(("login", 1, _at(day, start, rng, zone, now)))
        for n in range(rng.randint(1, 3)):
            hour = min(23, start + n)
            events.append(("lesson.completed", 1, _at(day, hour, rng, zone, now)))
            events.append(("practice.minutes", rng.randint(5, 45), _at(day, hour, rng, zone, now)))
    # Nothing before the player joined (their profile says since when).
    return [
        {
            "id": f"demo:{user.username}:{n}",
            "user": user.username,
            "type": type_,
            "value": value,
            "occurred_at": moment.isoformat(),
        }
        for n, (type_, value, moment) in enumerate(events)
        if moment > user.created_at
    ]


def demo_events_seed(*, users: dict[str, User], seed: int, now: datetime) -> int:
    """Send the demo players' event history, in the order it happened, through
    `events_record`; returns how many awards the rules granted."""
    profiles = {entry["username"]: entry["profile"] for entry in load_catalog()["users"]}
    events = []
    for username, user in sorted(users.items()):
        rng = random.Random(f"{seed}:events:{username}")
        events += _history(user, profiles.get(username, "idle"), rng, now)
    events.sort(key=lambda event: (datetime.fromisoformat(event["occurred_at"]), event["id"]))
    granted = 0
    for start in range(0, len(events), EVENTS_PER_CALL):
        results = events_record(events=events[start : start + EVENTS_PER_CALL])
        granted += sum(len(result.unlocked) for result in results)
    return granted
