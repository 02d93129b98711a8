#!/usr/bin/env python
"""Benchmark a progress increment against an award grant, through the API, at scale.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/progress_benchmark.py --users 100000 --awards 1000000

Migrates the database DATABASE_URL names, seeds it with `seed_demo_data --users --awards
--seed 1` (skipped when it already holds that many awards), then times, through
django.test.Client with an integration token (so authentication, permissions, serialization
and the transaction are all counted), after 20 warm-up calls:

- `grant`: POST /users/{u}/achievements/ of a plain achievement the user does not hold;
- `increment`: POST /users/{u}/progress/ `increment: 1` toward a goal of 1,000,000 (no unlock);
- `increment+unlock`: the same on a goal of 1, so the increment grants the award;
- `increment+key`: `increment` with an Idempotency-Key (the stored response included).

Each sample uses a different benchmark user, so no call finds a warm row left by the previous
one. Prints the median and p95 in milliseconds, and the SQL statements one call runs (a figure
that does not depend on how busy the machine is), as a markdown table.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")

WARMUP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from achievements.accounts import integration_account_ensure
    from achievements.models import Achievement, Award
    from achievements.seeding import BENCH_USERNAME_PREFIX
    from achievements.services.catalog import achievement_create
    from users.models import User

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if Award.objects.count() < args.awards:
        call_command("seed_demo_data", users=args.users, awards=args.awards, seed=1, verbosity=0)
    print(
        f"data: {User.objects.count():,} users, {Award.objects.count():,} awards "
        f"(seeded in {time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )

    def entry(code: str, goal: int) -> Achievement:
        found = Achievement.objects.filter(code=code).first()
        return found or achievement_create(
            code=code, points=5, goal=goal, names={"en": code}, descriptions={"en": code}
        )

    plain, long_goal, one_step = (
        entry("bench-grant", 1),
        entry("bench-long", 10**6),
        entry("bench-one", 1),
    )
    token = integration_account_ensure(name="bench-progress")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    usernames = iter(
        User.objects.filter(username__startswith=BENCH_USERNAME_PREFIX)
        .exclude(awards__achievement__in=[plain, one_step])
        .order_by("?")
        .values_list("username", flat=True)[: 4 * (args.samples + WARMUP)]
    )

    statements: dict[str, int] = {}

    def timed(path: str, body: dict, **headers) -> float:
        connection.queries_log.clear()  # a full log would make the count below wrong
        begin = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, body, content_type="application/json", **headers)
        elapsed = (time.perf_counter() - begin) * 1000
        assert response.status_code in (200, 201), response.content
        statements["last"] = len(queries)
        return elapsed

    scenarios = {
        "grant": lambda u, i: timed(
            f"/api/v1/users/{u}/achievements/", {"achievement": plain.code}
        ),
        "increment": lambda u, i: timed(
            f"/api/v1/users/{u}/progress/", {"achievement": long_goal.code, "increment": 1}
        ),
        "increment+unlock": lambda u, i: timed(
            f"/api/v1/users/{u}/progress/", {"achievement": one_step.code, "increment": 1}
        ),
        "increment+key": lambda u, i: timed(
            f"/api/v1/users/{u}/progress/",
            {"achievement": long_goal.code, "increment": 1},
            HTTP_IDEMPOTENCY_KEY=f"bench-{u}-{i}-{time.time_ns()}",
        ),
    }
    print("| call | median ms | p95 ms | SQL statements |")
    print("|---|---:|---:|---:|")
    for label, call in scenarios.items():
        samples = []
        for i in range(WARMUP + args.samples):
            elapsed = call(next(usernames), i)
            if i >= WARMUP:
                samples.append(elapsed)
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(f"| {label} | {statistics.median(samples):.2f} | {p95:.2f} | {statements['last']} |")


if __name__ == "__main__":
    main()
