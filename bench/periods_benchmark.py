#!/usr/bin/env python
"""Benchmark the period leaderboards, `around`, cursor and offset pages, and the write path's
cost of keeping period figures, on PostgreSQL. One command:

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/periods_benchmark.py --database periods_bench --keep

DATABASE_URL names the server (its database part is ignored); `--database` the benchmark's
own database. When that database does not exist it is created, migrated and seeded with
`seed_demo_data --users U --awards A --days 365 --seed 1` (default 100,000 users, 1,000,000
awards; the seeding time is printed). When it exists it is reused as it is. It is dropped at
the end unless `--keep`. Then:

- `VACUUM (ANALYZE)` of the awards, users and period rows (timed): every rolled-back write of
  a previous run leaves pages the index-only counts must visit;
- every board (by points and by achievements; day, week, month, year and all): its first
  page, `around` a user in the middle, the cursor page (`after`) in the middle and the offset
  page in the middle, through django.test.Client: per run 3 warm-up calls and the median of
  15, over `--runs` runs (default 3); the table shows min/median/max of the runs' medians, and
  the SQL statements one request of each kind runs (a count that does not depend on load);
- a grant (backdated, to a user who does not hold the achievement) with the period figures
  kept and with their upkeep switched off, each in a transaction rolled back: median of 200;
- a points change of the most-held achievement, and of a new achievement given to 50,000
  users inside the measuring transaction, each with and without moving the period rows.
Writes are rolled back, so the database is left as seeded and the script can run again.
"""

import argparse
import functools
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")

WARMUP, REPEAT, WRITES, BIG_HOLDERS = 3, 15, 200, 50_000


class Rollback(Exception):
    """Raised to roll a measured write back."""


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def median_ms(call, repeat: int = REPEAT, warmup: int = WARMUP) -> float:
    """Median milliseconds of `call()`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def spread(samples: list[float]) -> str:
    """min / median / max of the runs, in ms."""
    if not samples:
        return "—"
    return f"{min(samples):.1f} / {statistics.median(samples):.1f} / {max(samples):.1f}"


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


def prepare_database(server_url: str, name: str, users: int, awards: int) -> bool:
    """Point DATABASE_URL at `name`, creating and seeding it when missing; True if created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            print(f"reusing database {name}")
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    manage("migrate", "-v0")
    start = time.perf_counter()
    manage(
        *("seed_demo_data", "--users", str(users), "--awards", str(awards)),
        *("--days", "365", "--seed", "1"),
    )
    print(f"seeding {users:,} users / {awards:,} awards: {time.perf_counter() - start:.1f} s")
    return True


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(server_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    print(f"dropped database {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="the benchmark's database name")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writes-only", action="store_true", help="skip the boards")
    options = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    prepare_database(server_url, options.database, options.users, options.awards)
    try:
        measure(options)
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            drop_database(server_url, options.database)


def measure(options) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from achievements.models import Award, PeriodFigure
    from users.models import User

    settings.ALLOWED_HOSTS = ["*"]
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for model in (Award, User, PeriodFigure):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    print(f"VACUUM (ANALYZE): {time.perf_counter() - start:.1f} s")
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

    def statements(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            get(path)
        return len(queries)

    if not options.writes_only:
        kinds = ("first page", "around (middle)", "cursor page (middle)", "offset page (middle)")
        boards = []
        for by in ("points", "achievements"):
            for period in ("day", "week", "month", "year", "all"):
                count = get(board_path(by, period, limit=1)).json()["count"]
                middle = get(board_path(by, period, limit=1, offset=count // 2)).json()
                row = middle["results"][0]
                figure = row["points" if by == "points" else "achievements_count"]
                paths = (
                    board_path(by, period),
                    board_path(by, period, around=row["username"]),
                    board_path(by, period, after=f"{figure}.{row['username']}"),
                    board_path(by, period, offset=count // 2),
                )
                boards.append((by, period, count, paths, [[] for _ in paths]))
        for _run in range(options.runs):
            for _by, _period, _count, paths, samples in boards:
                for path, kept in zip(paths, samples, strict=True):
                    kept.append(median_ms(lambda p=path: get(p)))
        print(
            f"\nBoards (date {day}): min / median / max over {options.runs} runs of the median "
            f"of {REPEAT} calls, ms; statements per request in brackets\n"
        )
        print(f"| board | rows | {' | '.join(kinds)} |")
        print(f"|---|---:|{'---:|' * len(kinds)}")
        for by, period, count, paths, samples in boards:
            cells = [
                f"{spread(kept)} ({statements(path)})"
                for path, kept in zip(paths, samples, strict=True)
            ]
            print(f"| by={by}&period={period} | {count:,} | {' | '.join(cells)} |")

    measure_writes(latest)


def measure_writes(latest) -> None:
    from django.db import connection
    from django.db.models import Count

    from achievements.models import Achievement, Award
    from achievements.queries import _award_periods_sql, _periods_params
    from achievements.services import awards as award_services
    from achievements.services import catalog as catalog_services
    from achievements.services.catalog import achievement_create, achievement_update
    from core.db import statement_timeout_lift
    from users.models import User

    rng = random.Random(1)
    achievements = list(Achievement.objects.all())
    user_ids = list(User.objects.values_list("pk", flat=True))

    def one_grant() -> float:
        while True:
            user = User.objects.get(pk=rng.choice(user_ids))
            achievement = rng.choice(achievements)
            if not Award.objects.filter(user=user, achievement=achievement).exists():
                break
        at = latest - timedelta(minutes=rng.randrange(365 * 1440))
        return rolled_back(
            lambda: award_services.award_grant(user=user, achievement=achievement, awarded_at=at)
        )

    kept = [one_grant() for _ in range(WRITES)]
    real = award_services.grant_effects_apply
    award_services.grant_effects_apply = functools.partial(real, periods=False)
    try:
        without = [one_grant() for _ in range(WRITES)]
    finally:
        award_services.grant_effects_apply = real
    kept_ms, without_ms = statistics.median(kept), statistics.median(without)
    print(
        f"\ngrant (backdated, median of {WRITES}): {kept_ms:.2f} ms with period figures, "
        f"{without_ms:.2f} ms without: {kept_ms / without_ms:.2f}x"
    )

    def points_change(achievement, move: bool, prepare=None) -> float:
        """Seconds of a points change of `achievement` (or of what `prepare()`, run first in
        the same transaction, returns), rolled back, moving the period rows or not."""
        from django.db import transaction

        real_move = catalog_services.period_figures_move_points
        if not move:
            catalog_services.period_figures_move_points = lambda achievement_id, delta: 0
        elapsed = 0.0
        try:
            with transaction.atomic():
                statement_timeout_lift()
                if prepare:
                    achievement = prepare()
                start = time.perf_counter()
                achievement_update(achievement=achievement, points=achievement.points + 1)
                elapsed = time.perf_counter() - start
                raise Rollback
        except Rollback:
            pass
        finally:
            catalog_services.period_figures_move_points = real_move
        return elapsed

    popular = Achievement.objects.annotate(holders=Count("awards")).order_by("-holders").first()
    print(
        f"points change of {popular.code} ({popular.holders:,} holders, "
        f"{4 * popular.holders:,} period rows move): "
        f"{points_change(popular, True):.2f} s with period figures, "
        f"{points_change(popular, False):.2f} s without"
    )

    holders = min(BIG_HOLDERS, len(user_ids))

    def give_to_many() -> Achievement:
        """A new achievement held by `holders` users, its awards spread over the year and
        counted in the users' totals and period rows set-based, as award_grant would."""
        achievement = achievement_create(
            code="bench-many-holders",
            points=10,
            names={"en": "Many holders"},
            descriptions={"en": "Held by many."},
        )
        award, user = Award._meta.db_table, User._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {award} (user_id, achievement_id, awarded_at) "
                f"SELECT id, %s, %s - random() * interval '364 days' "
                f"FROM {user} ORDER BY random() LIMIT %s",
                [achievement.pk, latest, holders],
            )
            cursor.execute(
                f"UPDATE {user} SET points = points + 10, "
                "achievements_count = achievements_count + 1 "
                f"WHERE id IN (SELECT user_id FROM {award} WHERE achievement_id = %s)",
                [achievement.pk],
            )
            periods = _award_periods_sql("w.achievement_id = %s")
            cursor.execute(
                "INSERT INTO achievements_periodfigure "
                "(kind, start, user_id, username, achievements_count, points) "
                f"SELECT p.kind, p.start, p.user_id, u.username, 1, p.points FROM ({periods}) p "
                f"JOIN {user} u ON u.id = p.user_id "
                "ON CONFLICT (user_id, kind, start) DO UPDATE SET "
                "achievements_count = achievements_periodfigure.achievements_count + 1, "
                "points = achievements_periodfigure.points + excluded.points",
                _periods_params(achievement.pk),
            )
            cursor.execute("ANALYZE achievements_periodfigure")
        return achievement

    kept_big = points_change(None, True, give_to_many)
    without_big = points_change(None, False, give_to_many)
    print(
        f"points change of a new achievement given to {holders:,} users inside the "
        f"transaction ({4 * holders:,} period rows move): {kept_big:.2f} s with period "
        f"figures, {without_big:.2f} s without"
    )


if __name__ == "__main__":
    main()
