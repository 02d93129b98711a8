"""The management commands: seed_demo_data and rebuild_stats."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import translation

from achievements.models import Achievement, Award, Progress
from achievements.queries import figures_mismatches
from achievements.seeding import BENCH_USERNAME_PREFIX, load_catalog
from stats import selectors as stats
from users.models import User

pytestmark = pytest.mark.django_db


def seed(*args, **options) -> str:
    out = StringIO()
    call_command("seed_demo_data", *args, stdout=out, verbosity=0, **options)
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return Achievement.objects.count(), User.objects.count(), Award.objects.count()


def test_the_demo_has_a_bilingual_catalog_of_at_least_25_and_users_in_both_languages():
    seed()

    assert Achievement.objects.count() >= 25
    assert set(User.objects.values_list("language", flat=True)) == {"en", "ru"}
    translated = Achievement.objects.exclude(name_ru=None).exclude(name_ru="")
    assert translated.count() >= 25
    with translation.override("ru"):
        # The demo keeps two entries untranslated to show the English fallback.
        untranslated = Achievement.objects.filter(name_ru=None).first()
        assert untranslated.name == untranslated.name_en


def test_seeding_again_adds_nothing_twice():
    seed()
    before = counts()
    awarded_before = set(Award.objects.values_list("user__username", "achievement__code"))

    output = seed()

    assert counts() == before
    assert set(Award.objects.values_list("user__username", "achievement__code")) == awarded_before
    assert "Added 0 achievements, 0 users and 0 awards" in output


def test_the_demo_has_users_part_way_toward_incremental_and_hidden_achievements():
    seed()
    progress_before = set(Progress.objects.values_list("user_id", "achievement_id", "steps"))

    incremental = Achievement.objects.filter(goal__gt=1)
    assert incremental.count() >= 3
    part_way = Progress.objects.filter(achievement__goal__gt=1, steps__gt=0).exclude(
        steps=F("achievement__goal")
    )
    assert part_way.count() >= 5
    hidden = Achievement.objects.filter(hidden=True)
    assert hidden.count() == 2
    assert all(a.name_en and a.name_ru and a.description_ru for a in hidden)
    # Some users reached a goal through progress, and hold the award.
    reached = Progress.objects.filter(achievement__goal__gt=1, steps=F("achievement__goal"))
    assert reached.exists()
    assert all(Award.objects.filter(user=p.user, achievement=p.achievement) for p in reached)
    assert figures_mismatches() == []

    seed()

    assert set(Progress.objects.values_list("user_id", "achievement_id", "steps")) == (
        progress_before
    )


def test_the_demo_gives_every_stat_a_meaningful_answer():
    seed()

    by_count, by_points = stats.most_achievements(), stats.most_points()
    assert len(by_count["users"]) == 1
    assert len(by_points["users"]) == 1
    # Distinct leaders: one by count, another by points.
    assert by_count["users"][0]["username"] != by_points["users"][0]["username"]
    assert stats.max_points_gap()["difference"] > 0
    assert stats.min_points_gap()["difference"] is not None
    assert stats.streaks_at_least(7).count() >= 3
    assert len(stats.leaderboard("points")) == User.objects.count()


def test_the_demo_users_and_codes_are_those_of_the_catalog_file():
    seed()
    catalog = load_catalog()

    assert set(Achievement.objects.values_list("code", flat=True)) == {
        a["code"] for a in catalog["achievements"]
    }
    assert set(User.objects.values_list("username", flat=True)) == {
        u["username"] for u in catalog["users"]
    }


def test_a_benchmark_set_adds_exactly_the_users_and_awards_asked_for():
    seed()
    demo_users, demo_awards = User.objects.count(), Award.objects.count()

    seed(users=40, awards=300, seed=7)

    assert User.objects.count() == demo_users + 40
    assert Award.objects.count() == demo_awards + 300
    call_command("rebuild_stats", "--check", stdout=StringIO())


def test_a_benchmark_set_is_reproducible_and_not_added_twice():
    seed(users=30, awards=200, seed=5)
    first = set(
        Award.objects.filter(user__username__startswith=BENCH_USERNAME_PREFIX).values_list(
            "user__username", "achievement__code"
        )
    )
    seed(users=30, awards=200, seed=5)
    assert Award.objects.filter(user__username__startswith=BENCH_USERNAME_PREFIX).count() == 200

    User.objects.filter(username__startswith=BENCH_USERNAME_PREFIX).delete()
    seed(users=30, awards=200, seed=5)
    again = set(
        Award.objects.filter(user__username__startswith=BENCH_USERNAME_PREFIX).values_list(
            "user__username", "achievement__code"
        )
    )
    assert again == first


def test_more_awards_than_users_times_achievements_is_refused():
    with pytest.raises(CommandError, match="cannot fit"):
        seed(users=1, awards=10_000)


def test_users_without_awards_is_refused():
    with pytest.raises(CommandError, match="go together"):
        seed(users=10)


def test_rebuild_stats_check_names_a_corrupted_user_and_fails():
    seed()
    leader = stats.most_points()["users"][0]["username"]
    User.objects.filter(username=leader).update(points=1)
    out = StringIO()

    with pytest.raises(CommandError, match="1 user"):
        call_command("rebuild_stats", "--check", stdout=out)

    assert leader in out.getvalue()
    assert User.objects.get(username=leader).points == 1  # --check changes nothing


def test_rebuild_stats_repairs_what_check_found():
    seed()
    victim = User.objects.order_by("pk").first()
    User.objects.filter(pk=victim.pk).update(achievements_count=99, longest_streak=42)

    call_command("rebuild_stats", stdout=StringIO())

    call_command("rebuild_stats", "--check", stdout=StringIO())
    victim.refresh_from_db()
    assert victim.achievements_count == Award.objects.filter(user=victim).count()
