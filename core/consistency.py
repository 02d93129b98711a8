"""A registry of stored figures that can be checked against, and rebuilt from, their sources.

`manage.py rebuild_stats` lives in `achievements`; apps above it (events' measures) register
their own check and rebuild here from `AppConfig.ready`, so the command reaches them without
importing upwards.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mismatch:
    """One stored row that differs from what its source says: a name for people, and the
    figures stored and expected."""

    name: str
    stored: dict
    expected: dict


@dataclass(frozen=True)
class Consistency:
    name: str
    check: Callable[[], list[Mismatch]]
    rebuild: Callable[[], list[Mismatch]]


_REGISTERED: dict[str, Consistency] = {}


def register(
    *,
    name: str,
    check: Callable[[], list[Mismatch]],
    rebuild: Callable[[], list[Mismatch]],
) -> None:
    """Add (or replace) the check and rebuild of one kind of stored figures; `check` changes
    nothing and returns what differs, `rebuild` corrects it and returns what was wrong."""
    _REGISTERED[name] = Consistency(name=name, check=check, rebuild=rebuild)


def registered() -> list[Consistency]:
    """Every registered kind, in registration (app) order."""
    return list(_REGISTERED.values())
