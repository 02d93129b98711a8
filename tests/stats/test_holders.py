"""`stats/achievements/` reads holder counts kept by every write path; after each write they
equal a brute-force count of the award rows, also under concurrent grants and revocations of one
popular achievement."""

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from achievements.models import Achievement, Award, HolderCount
from achievements.queries import holders_mismatches
from achievements.services.awards import (
    award_grant,
    award_grant_many,
    award_grant_set,
    award_revoke,
)
from achievements.services.bulk import awards_bulk_load
from achievements.services.catalog import achievement_delete
from tests.factories import AchievementFactory, UserFactory
from users.models import User
from users.services import user_delete


def oracle() -> list[dict]:
    """The rarity list from the raw rows: holders counted award by award, rarest first."""
    held = Counter(Award.objects.values_list("achievement__code", flat=True))
    users = User.objects.count()
    rows = [
        {
            "code": code,
            "holders": held[code],
            "holders_percent": round(100 * held[code] / users, 2) if users else 0,
        }
        for code in Achievement.objects.values_list("code", flat=True)
    ]
    return sorted(rows, key=lambda r: (r["holders"], r["code"]))


def served() -> list[dict]:
    response = APIClient().get("/api/v1/stats/achievements/", {"limit": 1000})
    assert response.status_code == 200, response.content
    return [
        {field: row[field] for field in ("code", "holders", "holders_percent")}
        for row in response.json()["results"]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_holders_equal_the_awards_after_every_kind_of_write(seed, operator):
    rng = random.Random(seed)
    users = UserFactory.create_batch(12)
    catalog = AchievementFactory.create_batch(5)
    now = timezone.now()

    def grant_one():
        award_grant(user=rng.choice(users), achievement=rng.choice(catalog), by=operator)

    def grant_set():
        chosen = rng.sample(users, rng.randint(1, 6))
        award_grant_set(
            achievement=rng.choice(catalog),
            awarded_at={u.pk: now - timedelta(days=rng.randint(0, 9)) for u in chosen},
        )

    def grant_many():
        award_grant_many(users=rng.sample(users, 4), achievement=rng.choice(catalog))

    def revoke():
        held = list(Award.objects.select_related("user", "achievement"))
        if held:
            award = rng.choice(held)
            award_revoke(user=award.user, achievement=award.achievement)

    def delete_user():
        if len(users) > 4:
            user_delete(user=users.pop(rng.randrange(len(users))))

    def add_user():
        users.append(UserFactory())

    def delete_unheld():
        unheld = [a for a in catalog if not Award.objects.filter(achievement=a).exists()]
        if unheld and len(catalog) > 2:
            achievement_delete(achievement=unheld[0])
            catalog.remove(unheld[0])

    def bulk_load():
        awards_bulk_load(
            [(u.pk, rng.choice(catalog).pk, now - timedelta(hours=1)) for u in users[:5]]
        )

    writes = [grant_one] * 4 + [grant_set, grant_many, revoke, revoke, delete_user, add_user]
    writes += [delete_unheld, bulk_load]
    for _step in range(40):
        rng.choice(writes)()
        assert served() == oracle()
    assert holders_mismatches() == []


@pytest.mark.django_db
def test_the_check_reports_a_wrong_count_and_the_rebuild_corrects_it(grant, capsys):
    owl, bat = AchievementFactory(code="owl"), AchievementFactory(code="bat")
    for user in UserFactory.create_batch(3):
        grant(user, owl)
    HolderCount.objects.create(achievement=bat, holders=2)
    HolderCount.objects.filter(achievement=owl).update(holders=1)

    with pytest.raises(CommandError, match="holder counts"):
        call_command("rebuild_stats", "--check")
    assert "holder counts bat" in capsys.readouterr().out

    call_command("rebuild_stats")
    call_command("rebuild_stats", "--check")
    assert served() == oracle()
    assert HolderCount.objects.filter(achievement=owl).get().holders == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer at a time: real concurrency needs PostgreSQL",
)
def test_concurrent_grants_and_revocations_of_one_achievement_keep_it_exact():
    popular, other = AchievementFactory(code="popular"), AchievementFactory(code="other")
    users = UserFactory.create_batch(48)
    for user in users[::3]:
        award_grant(user=user, achievement=popular)
    threads, errors = 6, []
    barrier = threading.Barrier(threads)

    def work(index: int) -> None:
        rng = random.Random(index)
        mine = users[index::threads]
        try:
            connection.ensure_connection()
            barrier.wait(timeout=60)
            for _round in range(3):
                for user in rng.sample(mine, len(mine)):
                    if Award.objects.filter(user=user, achievement=popular).exists():
                        award_revoke(user=user, achievement=popular)
                    else:
                        award_grant(user=user, achievement=popular)
                    award_grant(user=user, achievement=other)
                award_grant_set(
                    achievement=popular,
                    awarded_at=timezone.now(),
                    user_ids=[u.pk for u in mine[:3]],
                )
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert not [t for t in pool if t.is_alive()], "a thread hung: lock wait or deadlock"
    assert errors == [], f"{len(errors)} thread(s) failed, first: {errors[0]!r}"

    assert served() == oracle()
    assert holders_mismatches() == []
    # Never more counter rows than writers at once (plus the first one).
    assert HolderCount.objects.filter(achievement=popular).count() <= threads + 1
