#!/usr/bin/env python
"""Benchmark the period leaderboards, `around`, and the write path's cost of keeping period
figures, on PostgreSQL.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/periods_benchmark.py --seed-users 100000 --seed-awards 1000000

With --seed-users/--seed-awards it first migrates and times
`seed_demo_data --users U --awards A --days 365 --seed 1` into the (empty) database of
DATABASE_URL, then VACUUM ANALYZE; without them it measures the data already there. Then:

- every board's first page (by points and by achievements; day, week, month, year and all) and
  `around` a user in the middle of each, through django.test.Client: 3 warm-up calls, then the
  median and p95 of 30;
- a grant (a backdated one, to a user who does not hold the achievement) with the period
  figures kept and with their upkeep switched off, each in a transaction rolled back: the
  median of 200 of each, and the ratio;
- a points change of the achievement with the most holders, with and without moving the
  period rows, each in a transaction rolled back.
Writes are rolled back, so the database is left as seeded and the script can run again.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")

WARMUP, REPEAT, WRITES = 3, 30, 200


class Rollback(Exception):
    """Raised to roll a measured write back."""


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def timed(call, repeat: int = REPEAT, warmup: int = WARMUP) -> tuple[float, float]:
    """(median, p95) milliseconds of `call()`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def rolled_back(write) -> float:
    """Milliseconds `write()` took inside a transaction that is then rolled back."""
    from django.db import transaction

    elapsed = 0.0
    try:
        with transaction.atomic():
            start = time.perf_counter()
            write()
            elapsed = (time.perf_counter() - start) * 1000
            raise Rollback
    except Rollback:
        pass
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed-users", type=int)
    parser.add_argument("--seed-awards", type=int)
    parser.add_argument("--writes-only", action="store_true", help="skip the boards")
    options = parser.parse_args()
    if options.seed_awards:
        manage("migrate", "-v0")
        start = time.perf_counter()
        manage(
            "seed_demo_data",
            "--users",
            str(options.seed_users),
            "--awards",
            str(options.seed_awards),
            "--days",
            "365",
            "--seed",
            "1",
        )
        print(f"seeding: {time.perf_counter() - start:.1f} s")

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from achievements.models import Achievement, Award, PeriodFigure
    from achievements.services import awards as award_services
    from achievements.services.catalog import achievement_update
    from stats.selectors import period_start
    from users.models import User

    settings.ALLOWED_HOSTS = ["*"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    print(
        f"data: {User.objects.count():,} users, {Award.objects.count():,} awards, "
        f"{PeriodFigure.objects.count():,} period rows"
    )
    latest = Award.objects.order_by("-awarded_at").values_list("awarded_at", flat=True).first()
    day = (latest - timedelta(days=180)).date()
    client = Client()

    def board_path(by: str, period: str, **extra) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"by": by, "period": period, **extra}.items())
        return f"/api/v1/stats/leaderboard/?{query}&date={day.isoformat()}"

    def get(path: str):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    print(f"\n| board (date {day}) | rows | first page median | p95 | around median | p95 |")
    print("|---|---:|---:|---:|---:|---:|")
    for by in () if options.writes_only else ("points", "achievements"):
        for period in ("day", "week", "month", "year", "all"):
            count = get(board_path(by, period, limit=1)).json()["count"]
            middle = get(board_path(by, period, limit=1, offset=count // 2)).json()["results"]
            first_page = board_path(by, period)
            first = timed(lambda p=first_page: get(p))
            around = (None, None)
            if middle:
                path = board_path(by, period, around=middle[0]["username"])
                around = timed(lambda p=path: get(p))
            print(
                f"| by={by}&period={period} | {count:,} | {first[0]:.1f} ms | {first[1]:.1f} ms "
                f"| {around[0]:.1f} ms | {around[1]:.1f} ms |"
            )

    rng = random.Random(1)
    achievements = list(Achievement.objects.all())
    user_ids = list(User.objects.values_list("pk", flat=True))
    now = latest

    def one_grant() -> float:
        while True:
            user = User.objects.get(pk=rng.choice(user_ids))
            achievement = rng.choice(achievements)
            if not Award.objects.filter(user=user, achievement=achievement).exists():
                break
        at = now - timedelta(minutes=rng.randrange(365 * 1440))
        return rolled_back(
            lambda: award_services.award_grant(user=user, achievement=achievement, awarded_at=at)
        )

    kept = [one_grant() for _ in range(WRITES)]
    real = award_services.period_figures_add
    award_services.period_figures_add = lambda award_id: None
    try:
        without = [one_grant() for _ in range(WRITES)]
    finally:
        award_services.period_figures_add = real
    kept_ms, without_ms = statistics.median(kept), statistics.median(without)
    print(
        f"\ngrant (backdated, median of {WRITES}): {kept_ms:.2f} ms with period figures, "
        f"{without_ms:.2f} ms without: {kept_ms / without_ms:.2f}x"
    )

    from django.db.models import Count

    popular = Achievement.objects.annotate(holders=Count("awards")).order_by("-holders").first()
    periods = PeriodFigure.objects.filter(
        user__in=Award.objects.filter(achievement=popular).values("user_id")
    ).count()
    from achievements.services import catalog as catalog_services

    def change() -> float:
        return rolled_back(
            lambda: achievement_update(achievement=popular, points=popular.points + 1)
        )

    kept_change = change()
    real_move = catalog_services.period_figures_move_points
    catalog_services.period_figures_move_points = lambda achievement_id, delta: 0
    try:
        without_change = change()
    finally:
        catalog_services.period_figures_move_points = real_move
    print(
        f"points change of {popular.code} ({popular.holders:,} holders, up to "
        f"{4 * popular.holders:,} of their {periods:,} period rows move): "
        f"{kept_change / 1000:.2f} s with period figures, {without_change / 1000:.2f} s without"
    )
    assert period_start("week", day).weekday() == 0


if __name__ == "__main__":
    main()
