"""A brute-force oracle for event measures, in plain Python over raw event rows.

It knows nothing of the per-day rows, the stored measures or their SQL: given the events a user
sent, it answers each measure by the contract's definition, the slow and obvious way.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo


@dataclass(frozen=True)
class EventRow:
    username: str
    type: str
    value: int
    occurred_at: datetime


def longest_run(days: set) -> int:
    """The most consecutive calendar days in `days`, counted one by one."""
    best = 0
    for day in days:
        if day - timedelta(days=1) in days:
            continue
        length = 1
        while day + timedelta(days=length) in days:
            length += 1
        best = max(best, length)
    return best


Zones = tzinfo | Mapping[str, tzinfo]


def zone_of(zones: Zones, username: str) -> tzinfo:
    """The zone a user's days are taken in: one for everyone, or each user's own."""
    return zones[username] if isinstance(zones, Mapping) else zones


def measures(events: Iterable[EventRow], zone: Zones) -> dict[tuple[str, str], dict]:
    """(username, type) -> {"count", "sum", "days", "longest_streak", "last_occurred_at"},
    days taken in `zone` (one zone, or a mapping of username to that user's zone)."""
    grouped = defaultdict(list)
    for event in events:
        grouped[(event.username, event.type)].append(event)
    answer = {}
    for key, rows in grouped.items():
        days = {row.occurred_at.astimezone(zone_of(zone, key[0])).date() for row in rows}
        answer[key] = {
            "count": len(rows),
            "sum": sum(row.value for row in rows),
            "days": len(days),
            "longest_streak": longest_run(days),
            "last_occurred_at": max(row.occurred_at for row in rows),
        }
    return answer


MEASURE_KEYS = {"count": "count", "sum": "sum", "days": "days", "streak": "longest_streak"}


def rule_outcomes(
    arrivals: list[EventRow], rules: dict[str, tuple[str, str, int]], zone: Zones
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], datetime]]:
    """Replay accepted events in arrival order against `rules` (code -> (event type, measure,
    goal)): each user's steps (the measure capped at the goal), and for each (username, code)
    whose measure reached the goal, the occurred_at of the event whose arrival reached it."""
    steps, awards = {}, {}
    seen: list[EventRow] = []
    for event in arrivals:
        seen.append(event)
        for code, (type_, measure, goal) in rules.items():
            if event.type != type_:
                continue
            mine = [e for e in seen if e.username == event.username and e.type == type_]
            value = measures(mine, zone)[(event.username, type_)][MEASURE_KEYS[measure]]
            steps[(event.username, code)] = min(value, goal)
            if value >= goal and (event.username, code) not in awards:
                awards[(event.username, code)] = event.occurred_at
    return steps, awards
