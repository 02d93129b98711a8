#!/usr/bin/env python
"""Benchmark event ingestion through HTTP: gunicorn with the repo's gunicorn.conf.py, on
loopback, against PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventbench \\
        .venv/bin/python bench/events_benchmark.py --sizes 10000,100000,1000000

It creates the database if missing, migrates, seeds `--users` users and `--awards` awards
(`seed_demo_data --seed 1`) on first use, then starts gunicorn (DEBUG off, no throttling) and
sends, from `--clients` threads over keep-alive connections, batches of `--batch` events of
`--types` types over `--users` users, dated at random over the past year, until the database
holds each size in turn; it prints the rate of each step (events/s). Then `--single` one-event
requests, and the exactness check: every measure recomputed in SQL from the raw events
(`measures_check`) and a brute-force Python oracle over a sample of users.
Not a test: nothing in `make test` runs it.
"""

import argparse
import http.client
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.appserver import cpu_seconds, ensure_database, gunicorn_start  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
os.environ.setdefault("DEBUG", "1")  # for the setup in this process only; gunicorn runs DEBUG=0
# Migrating and seeding a million awards outlast a request's statement timeout; gunicorn below
# gets the default back.
STATEMENT_TIMEOUT_MS = os.environ.get("DB_STATEMENT_TIMEOUT_MS", "15000")
os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"

HOST = "127.0.0.1"


def setup(users: int, awards: int) -> tuple[str, list[str]]:
    import django
    from django.core.management import call_command

    django.setup()
    from achievements.accounts import integration_account_ensure
    from users.models import User

    call_command("migrate", verbosity=0)
    if not User.objects.filter(username__startswith="bench-").exists():
        started = time.perf_counter()
        call_command("seed_demo_data", users=users, awards=awards, seed=1)
        print(f"seeded {users:,} users, {awards:,} awards in {time.perf_counter() - started:.1f} s")
    from achievements.models import Award, Progress
    from core.db import vacuum_analyze
    from events.models import Event, EventDay, Measure

    # As autovacuum would in a live database: fresh planner statistics after bulk loads.
    vacuum_analyze(User, Award, Progress, Event, EventDay, Measure)
    names = list(
        User.objects.filter(username__startswith="bench-")
        .order_by("pk")
        .values_list("username", flat=True)[:users]
    )
    return integration_account_ensure(name="eventbench"), names


def start_gunicorn(port: int, url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",
        "THROTTLE_ANON_RATE": "",
        "THROTTLE_USER_RATE": "",
        "LOG_LEVEL": "WARNING",
        "DB_STATEMENT_TIMEOUT_MS": STATEMENT_TIMEOUT_MS,
    }
    return gunicorn_start(port, env)


class CpuMeter:
    """CPU seconds spent by the server side: gunicorn's workers and the PostgreSQL backends
    connected to the benchmark database. On a shared machine the wall-clock rate depends on
    everyone else's load; CPU per event does not, and gives the rate two idle cores allow."""

    def __init__(self, gunicorn: subprocess.Popen, url: str):
        self.gunicorn, self.url = gunicorn, url

    def pids(self) -> set[int]:
        import psycopg

        children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children")
        pids = {self.gunicorn.pid, *map(int, children.read_text().split())}
        name = urlsplit(self.url).path.lstrip("/")
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchall()
        return pids | {row[0] for row in rows}

    def sample(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(after[pid] - before.get(pid, 0.0) for pid in after)


class Sender:
    """Keep-alive POSTs of event batches; counts what the service answered."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        self.headers = {
            "Host": HOST,
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
        }

    def post(self, body: object) -> dict:
        self.connection.request("POST", "/api/v1/events/", json.dumps(body), self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {payload[:300]!r}")
        return json.loads(payload)


def make_events(rng, prefix, start, count, usernames, types, now) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{n}",
            "user": rng.choice(usernames),
            "type": rng.choice(types),
            "value": rng.randint(1, 100),
            "occurred_at": (now - timedelta(seconds=rng.randint(60, 365 * 86_400))).isoformat(),
        }
        for n in range(start, start + count)
    ]


def send_many(port, token, clients, jobs) -> tuple[float, int]:
    """Run `jobs` (bodies) from `clients` threads; returns (seconds, events accepted)."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    accepted = [0]
    errors = []

    def work():
        sender = Sender(port, token)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            try:
                result = sender.post(body)
            except Exception as exc:  # reported after the run
                errors.append(exc)
                return
            with lock:
                accepted[0] += result["accepted"]

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} request(s) failed, first: {errors[0]}")
    return elapsed, accepted[0]


MEASURES = ["count", "sum", "days", "streak"]
# Goals a year of random history reaches for some users and not others.
GOALS = {"count": 3, "sum": 300, "days": 3, "streak": 2}


def rule_body(n: int, types: list[str], prefix: str) -> dict:
    measure = MEASURES[n % len(MEASURES)]
    return {
        "code": f"{prefix}-rule-{n}",
        "points": 10,
        "goal": GOALS[measure] * (1 + n // len(MEASURES) // 2),
        "name_en": f"Rule {n}",
        "description_en": f"{measure} of {types[n % len(types)]}",
        "rule": {"event": types[n % len(types)], "measure": measure},
    }


def post_achievement(port: int, token: str, body: dict) -> float:
    sender = Sender(port, token)
    started = time.perf_counter()
    sender.connection.request("POST", "/api/v1/achievements/", json.dumps(body), sender.headers)
    response = sender.connection.getresponse()
    payload = response.read()
    if response.status != 201:
        raise SystemExit(f"adding a rule failed: {response.status} {payload[:300]!r}")
    return time.perf_counter() - started


def rules_in_force(types: list[str]) -> int:
    """How many achievements have a rule over the benchmark's event types (earlier runs on a
    kept database added some; the demo's own rules are over other types)."""
    from django.db import connection

    from achievements.models import Achievement

    count = Achievement.objects.filter(rule_event__in=types).count()
    connection.close()
    return count


def rule_remove(port: int, token: str, code: str) -> None:
    sender = Sender(port, token)
    sender.connection.request(
        "PATCH", f"/api/v1/achievements/{code}/", json.dumps({"rule": None}), sender.headers
    )
    response = sender.connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise SystemExit(f"removing a rule failed: {response.status} {payload[:300]!r}")


def rules_exact(sample_users: list[int]) -> str:
    """Each rule on the sampled users: held exactly when the measure reached the goal (no
    revocations here), and otherwise progress equal to the measure."""
    from achievements.models import Achievement, Award, Progress
    from events.models import Measure
    from events.rules import MEASURE_COLUMNS

    wrong = checked = 0
    held = set(
        Award.objects.filter(user_id__in=sample_users).values_list("user_id", "achievement_id")
    )
    steps = {
        (p.user_id, p.achievement_id): p.steps
        for p in Progress.objects.filter(user_id__in=sample_users)
    }
    measures = {(m.user_id, m.type): m for m in Measure.objects.filter(user_id__in=sample_users)}
    for rule in Achievement.objects.exclude(rule_event=None):
        for user_id in sample_users:
            measure = measures.get((user_id, rule.rule_event))
            value = getattr(measure, MEASURE_COLUMNS[rule.rule_measure]) if measure else 0
            checked += 1
            key = (user_id, rule.pk)
            if (key in held) != (value >= rule.goal) or (
                key not in held and steps.get(key, 0) != value
            ):
                wrong += 1
    return f"rules over the sample: {checked:,} (user, rule) pairs checked, {wrong} wrong"


def exactness(sample: int, rng) -> None:
    from django.db import connection
    from django.utils import timezone

    from events.models import Event, Measure
    from events.services import measures_check
    from tests.events.oracle import EventRow, measures

    connection.close()
    started = time.perf_counter()
    mismatches = measures_check()
    print(
        f"measures_check over {Event.objects.count():,} events: {len(mismatches)} differ "
        f"({time.perf_counter() - started:.1f} s)"
    )
    user_ids = list(Measure.objects.values_list("user_id", flat=True).distinct())
    chosen = rng.sample(user_ids, min(sample, len(user_ids)))
    rows = [
        EventRow(str(u), t, v, at)
        for u, t, v, at in Event.objects.filter(user_id__in=chosen).values_list(
            "user_id", "type", "value", "occurred_at"
        )
    ]
    expected = measures(rows, timezone.get_default_timezone())
    stored = {
        (str(m.user_id), m.type): {
            "count": m.event_count,
            "sum": m.value_sum,
            "days": m.days,
            "longest_streak": m.longest_streak,
            "last_occurred_at": m.last_occurred_at,
        }
        for m in Measure.objects.filter(user_id__in=chosen)
    }
    verdict = "equal" if stored == expected else "DIFFERENT"
    print(f"oracle over {len(chosen)} sampled users ({len(rows):,} events): {verdict}")
    print(rules_exact(chosen))
    from achievements.queries import figures_mismatches

    print(f"users whose figures differ from their awards: {len(figures_mismatches())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="events stored after each step")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--types", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--single", type=int, default=3000, help="one-event requests")
    parser.add_argument("--sample", type=int, default=300, help="users checked by the oracle")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rules", type=int, default=20, help="rule-driven achievements")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database.")
    ensure_database(url)
    token, usernames = setup(args.users, args.awards)
    from django.db import connection

    from events.models import Event

    stored = Event.objects.count()
    connection.close()
    if args.port == 0:
        from tests.helpers import free_port

        args.port = free_port()
    rng = random.Random()
    prefix = f"run{int(time.time())}"
    types = [f"type-{n}" for n in range(args.types)]
    now = datetime.now(UTC)
    gunicorn = start_gunicorn(args.port, url)
    print(f"gunicorn on port {args.port}; {len(usernames):,} users; {stored:,} events stored")
    print()
    try:
        meter = CpuMeter(gunicorn, url)
        # Exactly --rules rules in force, whatever earlier runs on this database added: a
        # rerun on a kept database measures the same 20 rules over 5 types.
        existing = rules_in_force(types)
        rule_seconds = [
            post_achievement(args.port, token, rule_body(n, types, "bench"))
            for n in range(existing, args.rules)
        ]
        print(f"{max(existing, args.rules)} rules in force ({existing} kept from earlier runs)")
        if rule_seconds:
            print(
                f"{len(rule_seconds)} rules added over {stored:,} stored events: "
                f"{min(rule_seconds):.1f}-{max(rule_seconds):.1f} s each"
            )
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        print(
            "| events stored after | events sent | batches | seconds | events/s "
            "| server CPU ms per 1000 events | events/s two idle cores allow |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        sent = 0
        for size in [int(s) for s in args.sizes.split(",")]:
            count = size - stored
            if count <= 0:
                continue
            jobs = []
            for start in range(0, count, args.batch):
                events = make_events(
                    rng, prefix, sent + start, min(args.batch, count - start), usernames, types, now
                )
                jobs.append({"events": events})
            before = meter.sample()
            elapsed, accepted = send_many(args.port, token, args.clients, jobs)
            cpu = meter.spent(before, meter.sample())
            assert accepted == count, (accepted, count)
            sent += count
            stored += count
            print(
                f"| {size:,} | {count:,} | {len(jobs)} | {elapsed:.1f} | {count / elapsed:,.0f} "
                f"| {cpu / count * 1000 * 1000:,.0f} | {2 * count / cpu:,.0f} |"
            )
        singles = make_events(rng, f"{prefix}-single", 0, args.single, usernames, types, now)
        before = meter.sample()
        elapsed, accepted = send_many(args.port, token, args.clients, singles)
        cpu = meter.spent(before, meter.sample())
        print()
        print(
            f"single-event requests: {args.single:,} in {elapsed:.1f} s = "
            f"{args.single / elapsed:,.0f} requests/s ({accepted:,} accepted); server CPU "
            f"{cpu / args.single * 1000:.1f} ms per request = {2 * args.single / cpu:,.0f} "
            "requests/s on two idle cores"
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        from events.models import Event

        total = Event.objects.count()
        late = rule_body(args.rules, types, f"{prefix}-late")
        seconds = post_achievement(args.port, token, late)
        print(f"one more rule added over {total:,} stored events: {seconds:.1f} s")
        # Then out of force again, so the next run has --rules rules.
        rule_remove(args.port, token, late["code"])
    finally:
        gunicorn.terminate()
        gunicorn.wait(30)
    exactness(args.sample, rng)


if __name__ == "__main__":
    main()
