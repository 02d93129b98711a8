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
compare the ratios of one run.

`--http` measures the whole request instead, as gunicorn serves it but in process: Django's
test client POSTs batches shaped as bench/events_benchmark.py sends them (1000 events of 5
types over the seeded `bench-` users, dated over the past year) with an integration token to
/api/v1/events/, DEBUG off, on the benchmark's database (a copy of `bench1m`) with the
benchmark's 20 rules. Per batch it prints the CPU of this process (the app), the CPU of the
PostgreSQL backend serving it (/proc/<pid>/stat) and the statements; `--profile FILE` writes a
cProfile of one such request. Not a test.
"""

import argparse
import cProfile
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(os.environ.get("EVENTS_PROFILE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
if "--http" in sys.argv:
    # As bench/events_benchmark.py runs gunicorn.
    os.environ.update(
        DEBUG="0",
        SECRET_KEY="events-profile-" + "x" * 40,
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        THROTTLE_ANON_RATE="",
        THROTTLE_USER_RATE="",
        LOG_LEVEL="WARNING",
    )
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


def backend_cpu_ms(pid: int) -> float:
    """CPU milliseconds (user + system) the PostgreSQL backend `pid` has spent."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def http_main(args) -> None:
    """The whole request, in process: app CPU, backend CPU and statements per batch."""
    import json

    from bench import events_benchmark as bench

    token, usernames = bench.setup(100_000, 1_000_000)
    from achievements.services.catalog import achievement_create

    types = [f"type-{n}" for n in range(args.types)]
    for n in range(bench.rules_in_force(types), args.rules):
        body = bench.rule_body(n, types, "bench")
        achievement_create(
            code=body["code"],
            points=body["points"],
            goal=body["goal"],
            names={"en": body["name_en"]},
            descriptions={"en": body["description_en"]},
            rule=body["rule"],
        )
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    rng = random.Random(args.seed)
    prefix = f"http{int(time.time())}"
    now = datetime.now(UTC)
    bodies = [
        json.dumps(
            {
                "events": bench.make_events(
                    rng, f"{prefix}-b{r}", 0, args.batch, usernames, types, now
                )
            }
        )
        for r in range(args.rounds + 2)
    ]
    statements = [0]
    # Backend CPU by statement (its first words), over every measured batch.
    by_statement: dict[str, float] = {}

    def count(execute, sql, params, many, context):
        statements[0] += 1
        before = backend_cpu_ms(pid)
        try:
            return execute(sql, params, many, context)
        finally:
            label = re.sub(r'"s\d+_x\d+"', "<name>", " ".join(sql.split()[:9])[:90])
            by_statement[label] = by_statement.get(label, 0.0) + backend_cpu_ms(pid) - before

    def post(body):
        response = client.post("/api/v1/events/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        return response

    # The app CPU inside events_record, to tell the HTTP layer's share from the service's.
    import events.api

    inside = [0.0]
    record = events.api.events_record

    def timed_record(**kwargs):
        started = time.process_time()
        try:
            return record(**kwargs)
        finally:
            inside[0] += time.process_time() - started

    events.api.events_record = timed_record
    post(bodies.pop())  # warm: token cache, prepared statements, imports
    app, db, stmts, service = [], [], [], []
    pid = 0
    for body in bodies[: args.rounds]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        statements[0] = inside[0] = 0
        with connection.execute_wrapper(count):
            db_before, started = backend_cpu_ms(pid), time.process_time()
            post(body)
            app.append((time.process_time() - started) * 1000)
            db.append(backend_cpu_ms(pid) - db_before)
        stmts.append(statements[0])
        service.append(inside[0] * 1000)
        print(
            f"batch: app {app[-1]:.0f} ms ({service[-1]:.0f} in events_record), "
            f"db {db[-1]:.0f} ms, {stmts[-1]} statements"
        )
    print()
    print("| per 1000-event batch over HTTP | min | median |")
    print("|---|---:|---:|")
    outside = [a - s for a, s in zip(app, service, strict=True)]
    for label, values in (
        ("app CPU ms", app),
        ("… of which in events_record", service),
        ("… of which the HTTP layer around it", outside),
        ("PostgreSQL CPU ms", db),
    ):
        print(f"| {label} | {min(values):.0f} | {statistics.median(values):.0f} |")
    total = [a + d for a, d in zip(app, db, strict=True)]
    print(f"| total CPU ms | {min(total):.0f} | {statistics.median(total):.0f} |")
    print(f"| statements | {min(stmts)} | {statistics.median(stmts):g} |")
    print()
    print("| statement | PostgreSQL CPU ms per batch (mean, 10 ms ticks) |")
    print("|---|---:|")
    for label, spent in sorted(by_statement.items(), key=lambda item: -item[1]):
        print(f"| {label} | {spent / len(db):.1f} |")
    rest = (sum(db) - sum(by_statement.values())) / len(db)
    print(f"| (outside statements: commit, deferred foreign key checks) | {rest:.1f} |")
    if args.profile:
        cProfile.runctx("post(body)", globals(), {"post": post, "body": bodies[-1]}, args.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--types", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of one batch to this file")
    parser.add_argument(
        "--http",
        action="store_true",
        help="the whole HTTP request on a copy of bench1m (see the module docstring)",
    )
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    ensure_database(url)
    if args.http:
        http_main(args)
        return
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
