#!/usr/bin/env python
"""Benchmark the write side on PostgreSQL: grants per second from N threads in-process, with
the feed lock, without it, and with the code before issue 17, interleaved; statements per
grant over HTTP; and `stats/achievements/` from the holder counters against the old grouping
of every award.

    .venv/bin/python bench/writes_benchmark.py --database writes_fast_bench --keep

The database (on the server of DATABASE_URL, default postgres://postgres@127.0.0.1:5432) is
created, migrated and seeded (`seed_demo_data --users 100000 --awards 1000000 --seed 1`) when
it holds no awards, and reused otherwise; it is dropped at the end unless --keep. Each run
grants `--grants` distinct (user, achievement) pairs of seeded users from `--threads` threads
through `award_grant`, for each mode in turn. Afterwards `rebuild_stats --check` must be clean.
Prints markdown tables (min/median/max of the runs).
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The awards service as it was before issue 17, loaded from git for the side-by-side runs.
BEFORE = "6794933"


def database_prepare(url: str, users: int, awards: int) -> None:
    """Create, migrate and seed the database unless it already holds awards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if exists:
        with psycopg.connect(url) as conn:
            try:
                seeded = conn.execute("SELECT EXISTS (SELECT 1 FROM achievements_award)")
                if seeded.fetchone()[0]:
                    print(f"reusing the seeded database {name}", file=sys.stderr)
                    manage("migrate", "-v0", url=url)
                    return
            except psycopg.errors.UndefinedTable:
                pass
    manage("migrate", "-v0", url=url)
    started = time.perf_counter()
    manage("seed_demo_data", f"--users={users}", f"--awards={awards}", "--seed=1", url=url)
    print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def database_drop(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        name = sql.Identifier(parts.path.lstrip("/"))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def manage(*args: str, url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def old_awards_module():
    """achievements.services.awards as of BEFORE, as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BEFORE}:achievements/services/awards.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("awards_before")
    exec(compile(source, "awards_before.py", "exec"), module.__dict__)
    return module


def pairs_pick(count: int, seed: int) -> list[tuple[int, int]]:
    """`count` (user id, achievement id) pairs of seeded users, none held, no user twice."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT u.id, (
                SELECT a.id FROM achievements_achievement a
                WHERE NOT EXISTS (
                    SELECT 1 FROM achievements_award w
                    WHERE w.user_id = u.id AND w.achievement_id = a.id
                )
                ORDER BY md5(a.id::text || u.id::text) LIMIT 1
            )
            FROM users_user u
            WHERE u.username LIKE 'bench%%'
            ORDER BY md5(u.id::text || %s) LIMIT %s
            """,
            [str(seed), count],
        )
        return [(user, achievement) for user, achievement in cursor.fetchall() if achievement]


def grants_run(grant, pairs: list[tuple[int, int]], threads: int) -> float:
    """Grant every pair from `threads` threads at once; returns grants per second."""
    from django.db import connection

    from achievements.models import Achievement
    from users.models import User

    users = User.objects.in_bulk([u for u, _a in pairs])
    catalog = Achievement.objects.in_bulk([a for _u, a in pairs])
    shares = [pairs[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(share):
        try:
            connection.ensure_connection()
            barrier.wait()
            for user_id, achievement_id in share:
                grant(user=users[user_id], achievement=catalog[achievement_id])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return len(pairs) / elapsed


def statements_per_post(client, grant_module) -> tuple[int, int]:
    """Statements of one new grant and one repeat through POST, with `grant_module`'s
    award_grant behind the view."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import achievements.api

    ((user_id, achievement_id),) = pairs_pick(1, seed=int(time.time()))
    from achievements.models import Achievement
    from users.models import User

    username = User.objects.get(pk=user_id).username
    code = Achievement.objects.get(pk=achievement_id).code
    kept, achievements.api.award_grant = achievements.api.award_grant, grant_module.award_grant
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                f"/api/v1/users/{username}/achievements/",
                {"achievement": code},
                format="json",
                secure=True,
            )
        assert response.status_code in (200, 201), (response.status_code, response.content)
        counts.append(len(captured))
    achievements.api.award_grant = kept
    return counts[0], counts[1]


def timed_ms(call, repeat: int = 30, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def spread(values: list[float]) -> str:
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="writes_fast_bench")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--grants", type=int, default=400, help="grants per run and mode")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    url = urlunsplit(urlsplit(server)._replace(path=f"/{args.database}"))
    database_prepare(url, args.users, args.awards)
    os.environ.update(DATABASE_URL=url, DEBUG="0", SECRET_KEY="bench", ALLOWED_HOSTS="*")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    import stats.selectors
    from achievements.accounts import integration_account_ensure
    from achievements.models import Award
    from achievements.queries import holders_add
    from achievements.services import awards

    setup_test_environment()
    before = old_awards_module()
    modes = {
        "now (feed lock)": (awards.award_grant, "pg_advisory_xact_lock"),
        "now, feed lock shared (no serialization)": (
            awards.award_grant,
            "pg_advisory_xact_lock_shared",
        ),
        f"before ({BEFORE})": (before.award_grant, "pg_advisory_xact_lock"),
    }
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    needed = args.runs * len(modes) * args.grants
    pairs = iter(pairs_pick(needed, seed=int(time.time())))
    old_granted: list[int] = []
    for run in range(args.runs):
        for mode, (grant, lock_function) in modes.items():
            chosen = [next(pairs) for _ in range(args.grants)]
            awards.FEED_LOCK_FUNCTION = lock_function
            results[mode].append(grants_run(grant, chosen, args.threads))
            if grant is before.award_grant:
                old_granted += [a for _u, a in chosen]
            print(f"run {run + 1} {mode}: {results[mode][-1]:.0f} grants/s", file=sys.stderr)
    awards.FEED_LOCK_FUNCTION = "pg_advisory_xact_lock"
    # The old code kept no holder counts: add its grants, so the check below stays meaningful.
    for achievement_id in old_granted:
        holders_add(achievement_id, 1)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {integration_account_ensure(name='bench')}")
    new_now, repeat_now = statements_per_post(client, awards)
    new_before, repeat_before = statements_per_post(client, before)
    old_granted.append(Award.objects.order_by("-id").values_list("achievement_id", flat=True)[0])
    holders_add(old_granted[-1], 1)

    def old_holders() -> dict[int, int]:
        return dict(
            Award.objects.order_by()
            .values("achievement")
            .annotate(holders=Count("*"))
            .values_list("achievement", "holders")
        )

    anonymous = APIClient()

    def stats_read():
        assert anonymous.get("/api/v1/stats/achievements/", secure=True).status_code == 200

    now_reads, before_reads = [], []
    counters = stats.selectors.holders_by_achievement
    for _ in range(args.runs):
        stats.selectors.holders_by_achievement = counters
        now_reads.append(timed_ms(stats_read))
        stats.selectors.holders_by_achievement = old_holders
        before_reads.append(timed_ms(stats_read))
    stats.selectors.holders_by_achievement = counters

    started = time.perf_counter()
    call_command("rebuild_stats", "--check", stdout=open(os.devnull, "w"))  # noqa: SIM115
    check_seconds = time.perf_counter() - started

    print(f"\n### Grants per second, {args.threads} threads in-process, {args.grants} per run")
    print("\n| mode | min / median / max |\n|---|---:|")
    for mode, values in results.items():
        print(f"| {mode} | {spread(values)} |")
    print("\n### Statements per POST /users/{u}/achievements/ (auth included)")
    print("\n| code | new grant (201) | repeat (200) |\n|---|---:|---:|")
    print(f"| now | {new_now} | {repeat_now} |")
    print(f"| before ({BEFORE}) | {new_before} | {repeat_before} |")
    print("\n### GET stats/achievements/ median ms (30 calls after 3 warm-ups), per run")
    print("\n| holders from | min / median / max |\n|---|---:|")
    print(f"| counters (now) | {spread(now_reads)} |")
    print(f"| grouping every award (before) | {spread(before_reads)} |")
    print(f"\n`rebuild_stats --check` clean afterwards ({check_seconds:.0f} s).")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
