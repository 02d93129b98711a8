"""A brute-force oracle for event measures, in plain Python over raw event rows.

It knows nothing of the per-day rows, the stored measures or their SQL: given the events a user
sent, it answers each measure by the contract's definition, the slow and obvious way.
"""

from collections import defaultdict
from collections.abc import Iterable
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


def measures(events: Iterable[EventRow], zone: tzinfo) -> dict[tuple[str, str], dict]:
    """(username, type) -> {"count", "sum", "days", "longest_streak", "last_occurred_at"}."""
    grouped = defaultdict(list)
    for event in events:
        grouped[(event.username, event.type)].append(event)
    answer = {}
    for key, rows in grouped.items():
        days = {row.occurred_at.astimezone(zone).date() for row in rows}
        answer[key] = {
            "count": len(rows),
            "sum": sum(row.value for row in rows),
            "days": len(days),
            "longest_streak": longest_run(days),
            "last_occurred_at": max(row.occurred_at for row in rows),
        }
    return answer
