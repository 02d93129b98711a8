#!/usr/bin/env python
"""The work of one batch of events and of one single event, in process, counted in ways a
loaded machine does not change: SQL statements per call, and the CPU seconds of this process
(Python and driver) per call, median of `--rounds`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventprof \\
        .venv/bin/python bench/events_profile.py [--users 2000] [--rules 20] [--types 5]

It creates the database if missing, migrates, adds `--users` users and `--rules` rule-driven
achievements over `--types` event types (the issue's 20 over 5) on first use, then records
`--rounds` batches of `--batch` events and five times as many single events through
`events_record`, printing a markdown table of medians (statements, CPU ms of this process,
wall ms). `--profile FILE` also writes a cProfile of one batch. To compare a change, run it
from two checkouts (EVENTS_PROFILE_ROOT=<checkout>) against two databases, interleaved, and
compare the ratios of one run. Not a test.
"""

import argparse
import cProfile
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(os.environ.get("EVENTS_PROFILE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"

MEASURES = ["count", "sum", "days", "streak"]
GOALS = {"count": 40, "sum": 3000, "days": 30, "streak": 5}


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(users: int, rules: int, types: list[str]) -> list[str]:
    import django
    from django.core.management import call_command

    django.setup()
    from achievements.models import Achievement
    from achievements.services.catalog import achievement_create
    from users.services import user_bulk_create

    call_command("migrate", verbosity=0)
    names = [f"prof-{n:06d}" for n in range(users)]
    user_bulk_create(usernames=names)
    for n in range(rules):
        code = f"prof-rule-{n}"
        if Achievement.objects.filter(code=code).exists():
            continue
        measure = MEASURES[n % len(MEASURES)]
        achievement_create(
            code=code,
            points=10,
            goal=GOALS[measure] * (1 + n // 8),
            names={"en": code},
            descriptions={"en": code},
            rule={"event": types[n % len(types)], "measure": measure},
        )
    return names


def events(rng, prefix: str, count: int, names: list[str], types: list[str]) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "id": f"{prefix}-{n}",
            "user": rng.choice(names),
            "type": rng.choice(types),
            "value": rng.randint(1, 100),
            "occurred_at": (now - timedelta(seconds=rng.randint(60, 365 * 86_400))).isoformat(),
        }
        for n in range(count)
    ]


def measure(calls) -> tuple[float, float, float]:
    """(median statements, median CPU ms in this process, median wall ms) over the calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    statements, cpu, wall = [], [], []
    for call in calls:
        with CaptureQueriesContext(connection) as captured:
            started, clock = time.process_time(), time.perf_counter()
            call()
            cpu.append((time.process_time() - started) * 1000)
            wall.append((time.perf_counter() - clock) * 1000)
        statements.append(len(captured.captured_queries))
    return statistics.median(statements), statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--types", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of one batch to this file")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    ensure_database(url)
    types = [f"type-{n}" for n in range(args.types)]
    names = setup(args.users, args.rules, types)
    from events.models import Event
    from events.services import events_record

    rng = random.Random(args.seed)
    prefix = f"p{Event.objects.count()}"
    batches = [events(rng, f"{prefix}-b{r}", args.batch, names, types) for r in range(args.rounds)]
    singles = [events(rng, f"{prefix}-s{r}", 1, names, types) for r in range(args.rounds * 5)]
    ruleless = [
        events(rng, f"{prefix}-n{r}", 1, names, ["no-rule"]) for r in range(args.rounds * 5)
    ]
    rows = [
        (f"batch of {args.batch}, {args.rules} rules over {args.types} types", batches),
        ("single event with rules", singles),
        ("single event of a type without rules", ruleless),
    ]
    print("| call | statements | CPU ms in process | wall ms (load-dependent) |")
    print("|---|---:|---:|---:|")
    for label, bodies in rows:
        statements, cpu, wall = measure([lambda b=b: events_record(events=b) for b in bodies])
        print(f"| {label} | {statements:g} | {cpu:.1f} | {wall:.1f} |")
    if args.profile:
        body = events(rng, f"{prefix}-prof", args.batch, names, types)
        cProfile.runctx(
            "events_record(events=body)",
            globals(),
            {"events_record": events_record, "body": body},
            args.profile,
        )


if __name__ == "__main__":
    main()
