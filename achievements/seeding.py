"""Demo and benchmark data, written through the same services as every other write.

`demo_seed` loads the bilingual catalog and demo users from data/demo_catalog.json and awards
them over recent weeks so that every stat has an answer; users are part-way toward the
incremental achievements (through the progress services), and some reach the goal. Apps above
this one add their own demo steps through `DEMO_SEED_STEPS` (the events app sends the demo
players' events, which drive the rule-driven achievements).
`bench_seed` adds a large, reproducible set for benchmarks. Both can run again without adding
anything twice.
"""

import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from achievements.models import Achievement, Award, PeriodFigure
from achievements.services.awards import award_grant
from achievements.services.bulk import awards_bulk_load
from achievements.services.catalog import achievement_create
from achievements.services.progress import progress_set
from core.db import vacuum_analyze
from core.languages import language_codes
from users.models import User
from users.selectors import user_get
from users.services import user_bulk_create, user_create

logger = logging.getLogger(__name__)

CATALOG_PATH = Path(__file__).resolve().parent / "data" / "demo_catalog.json"
BENCH_USERNAME_PREFIX = "bench-"

Progress = Callable[[str, int, int], None]

# Demo steps of apps above this one, registered from their AppConfig.ready and run in order at
# the end of `demo_seed`, in its transaction, as step(users=<username: User>, seed=<int>,
# now=<datetime>); each returns how many awards it added. A step must add nothing on a rerun.
DEMO_SEED_STEPS: list[Callable[..., int]] = []


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class SeedReport:
    achievements_created: int = 0
    users_created: int = 0
    awards_created: int = 0
    notes: list[str] = field(default_factory=list)


def load_catalog() -> dict:
    """The demo catalog and users, as stored in the repository."""
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def _ensure_catalog(catalog: dict, report: SeedReport) -> dict[str, Achievement]:
    existing = {a.code: a for a in Achievement.objects.all()}
    for entry in catalog["achievements"]:
        if entry["code"] in existing:
            continue
        existing[entry["code"]] = achievement_create(
            code=entry["code"],
            points=entry["points"],
            goal=entry.get("goal", 1),
            hidden=entry.get("hidden", False),
            rule=entry.get("rule"),
            # A language the catalog file has no text for falls back to English.
            names={code: entry.get(f"name_{code}", "") for code in language_codes()},
            descriptions={code: entry.get(f"description_{code}", "") for code in language_codes()},
        )
        report.achievements_created += 1
    return existing


def _moment(day: date, rng: random.Random, now: datetime) -> datetime:
    """A believable moment on `day` (local time), never later than now."""
    local = datetime.combine(day, time(rng.randint(8, 22), rng.randint(0, 59)))
    moment = timezone.make_aware(local, timezone.get_default_timezone())
    return min(moment, now - timedelta(minutes=rng.randint(1, 30)))


def _joined(first_award_day: date, rng: random.Random) -> datetime:
    """A moment 1 to 21 days before `first_award_day`, so the profile's "member since" comes
    before every award."""
    day = first_award_day - timedelta(days=rng.randint(1, 21))
    local = datetime.combine(day, time(rng.randint(8, 22), rng.randint(0, 59)))
    return timezone.make_aware(local, timezone.get_default_timezone())


def _demo_plan(catalog: dict, today: date, rng: random.Random) -> Iterator[tuple[str, str, date]]:
    """(username, code, day) for every demo award, fixed by the seed and the catalog."""
    # Incremental and hidden achievements are earned through progress (catalog["progress"]).
    # Rule-driven ones follow the demo events (DEMO_SEED_STEPS).
    plain = [
        a
        for a in catalog["achievements"]
        if a.get("goal", 1) == 1 and not a.get("hidden") and not a.get("rule")
    ]
    by_points = sorted(plain, key=lambda a: a["points"])
    cheap = [a["code"] for a in by_points[:22]]
    dear = [a["code"] for a in by_points[-12:]]
    middle = [a["code"] for a in by_points[4:-8]]
    codes = [a["code"] for a in by_points]

    def days_back(n: int, span: int) -> list[date]:
        return sorted(today - timedelta(days=d) for d in rng.sample(range(span), n))

    for user in catalog["users"]:
        name, profile = user["username"], user["profile"]
        if profile == "leader_count":
            # The most achievements, mostly cheap ones.
            picks, days = cheap, days_back(len(cheap), 42)
        elif profile == "leader_points":
            # Fewer achievements, the most valuable ones.
            picks, days = dear, days_back(len(dear), 42)
        elif profile == "streaker":
            length = rng.randint(7, 12)
            end = today - timedelta(days=rng.randint(0, 6))
            picks = rng.sample(middle, length)
            days = [end - timedelta(days=d) for d in range(length)][::-1]
        elif profile == "regular":
            count = rng.randint(3, 10)
            picks, days = rng.sample(codes, count), days_back(count, 42)
        elif profile == "newcomer":
            count = rng.randint(0, 1)
            picks, days = rng.sample(cheap, count), days_back(count, 5)
        else:
            picks, days = [], []
        yield from ((name, code, day) for code, day in zip(picks, days, strict=True))


@transaction.atomic
def demo_seed(*, seed: int = 2024, progress: Progress = _no_progress) -> SeedReport:
    """Load the demo catalog, users and awards; a second run adds nothing."""
    report = SeedReport()
    catalog = load_catalog()
    achievements = _ensure_catalog(catalog, report)
    progress("achievements", len(achievements), len(achievements))

    now = timezone.now()
    today = timezone.localdate(now)
    rng = random.Random(seed)
    plan = list(_demo_plan(catalog, today, rng))
    # Each demo user joins a few days to weeks before their first award (a separate generator,
    # so that the awards stay those of the seed).
    first_day = {}
    for username, _code, day in plan:
        first_day[username] = min(day, first_day.get(username, day))
    joined_rng = random.Random(seed + 1)

    users = {}
    for entry in catalog["users"]:
        try:
            users[entry["username"]] = user_get(entry["username"])
        except User.DoesNotExist:
            users[entry["username"]] = user_create(
                username=entry["username"],
                # A demo user whose language is not configured reads in the default one.
                language=entry["language"]
                if entry["language"] in language_codes()
                else settings.LANGUAGE_CODE,
                created_at=_joined(first_day.get(entry["username"], today), joined_rng),
            )
            report.users_created += 1
    progress("users", len(users), len(users))

    for done, (username, code, day) in enumerate(plan, start=1):
        _award, created = award_grant(
            user=users[username], achievement=achievements[code], awarded_at=_moment(day, rng, now)
        )
        report.awards_created += created
        if done % 25 == 0 or done == len(plan):
            progress("awards", done, len(plan))
    # Steps are set "at least", so a second run changes nothing.
    for entry in catalog.get("progress", []):
        _progress, unlocked = progress_set(
            user=users[entry["username"]],
            achievement=achievements[entry["code"]],
            steps=entry["steps"],
        )
        report.awards_created += unlocked
    progress("progress", len(catalog.get("progress", [])), len(catalog.get("progress", [])))
    for step in DEMO_SEED_STEPS:
        report.awards_created += step(users=users, seed=seed, now=now)
    logger.info(
        "demo data: %s achievements, %s users, %s awards added",
        report.achievements_created,
        report.users_created,
        report.awards_created,
    )
    return report


def _bench_counts(users: int, awards: int, per_user_max: int, rng: random.Random) -> list[int]:
    """How many awards each benchmark user gets: spread around the mean, summing to `awards`."""
    mean = awards / users
    counts = [min(per_user_max, max(0, round(rng.gauss(mean, mean / 2)))) for _ in range(users)]
    diff = awards - sum(counts)
    step = 1 if diff > 0 else -1
    while diff:
        i = rng.randrange(users)
        if 0 <= counts[i] + step <= per_user_max:
            counts[i] += step
            diff -= step
    return counts


def bench_seed(
    *, users: int, awards: int, seed: int = 1, days: int = 120, progress: Progress = _no_progress
) -> SeedReport:
    """Add `users` benchmark users and `awards` awards over the last `days` days, reproducibly
    for a given seed, then rebuild every figure set-based. Runs again add nothing twice."""
    report = demo_seed(progress=progress)
    # Rule-driven achievements are earned by events (the demo players'), not bulk-loaded.
    achievement_ids = list(
        Achievement.objects.filter(rule_event=None).order_by("code").values_list("pk", flat=True)
    )
    if awards > users * len(achievement_ids):
        raise ValueError(
            f"{awards} awards cannot fit {users} users x {len(achievement_ids)} achievements."
        )
    rng = random.Random(seed)
    usernames = [f"{BENCH_USERNAME_PREFIX}{i:07d}" for i in range(users)]
    with transaction.atomic():
        before = User.objects.count()
        for start in range(0, users, 10_000):
            user_bulk_create(usernames=usernames[start : start + 10_000])
            progress("users", min(start + 10_000, users), users)
        report.users_created += User.objects.count() - before

    ids = dict(
        User.objects.filter(username__startswith=BENCH_USERNAME_PREFIX).values_list(
            "username", "pk"
        )
    )
    counts = _bench_counts(users, awards, len(achievement_ids), rng)
    now = timezone.now()
    today = timezone.localdate(now)
    tz = timezone.get_default_timezone()

    def rows() -> Iterator[tuple[int, int, datetime]]:
        done = 0
        for username, count in zip(usernames, counts, strict=True):
            user_id = ids[username]
            # Awards on mostly consecutive days, so that streaks of every length occur.
            day = today - timedelta(days=rng.randrange(days))
            for achievement_id in rng.sample(achievement_ids, count):
                moment = datetime.combine(day, time(rng.randrange(24), rng.randrange(60)))
                yield user_id, achievement_id, min(timezone.make_aware(moment, tz), now)
                day += timedelta(days=1 if rng.random() < 0.8 else rng.randint(0, 3))
                day = min(day, today)
                done += 1
                if done % 100_000 == 0:
                    progress("awards", done, awards)
        progress("awards", done, awards)

    # Past award_grant on purpose, and the figures rebuilt set-based: see awards_bulk_load.
    report.awards_created += awards_bulk_load(rows())
    progress("figures", 1, 1)
    vacuum_analyze(Award, User, PeriodFigure)
    logger.info(
        "benchmark data: %s users and %s awards added", report.users_created, report.awards_created
    )
    return report
