"""The management commands: seed_demo_data and rebuild_stats."""

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Min
from django.utils import timezone, translation

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
    assert "Added 0 achievements, 0 players and 0 awards" in output


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


def test_every_demo_user_joined_before_their_first_award():
    seed()

    now = timezone.now()
    first_awards = dict(
        Award.objects.values("user__username")
        .annotate(first=Min("awarded_at"))
        .values_list("user__username", "first")
    )
    for user in User.objects.all():
        assert user.created_at < now
        if user.username in first_awards:
            assert user.created_at < first_awards[user.username], user.username
    assert len({user.created_at for user in User.objects.all()}) > 1


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


def held_off_goal() -> set[tuple[str, str]]:
    """The oracle: every award whose holder's progress row is missing or not at the goal."""
    steps = {(p.user_id, p.achievement_id): p.steps for p in Progress.objects.all()}
    return {
        (award.user.username, award.achievement.code)
        for award in Award.objects.select_related("user", "achievement")
        if steps.get((award.user_id, award.achievement_id)) != award.achievement.goal
    }


def test_rebuild_stats_finds_and_restores_holders_progress_off_the_goal():
    seed()
    awards = Award.objects.select_related("user", "achievement").order_by("pk")
    lowered, removed = awards[0], awards[1]
    Progress.objects.filter(user=lowered.user, achievement=lowered.achievement).update(steps=0)
    Progress.objects.filter(user=removed.user, achievement=removed.achievement).delete()
    out = StringIO()

    with pytest.raises(CommandError, match="2 progress row"):
        call_command("rebuild_stats", "--check", stdout=out)
    assert held_off_goal() == {
        (lowered.user.username, lowered.achievement.code),
        (removed.user.username, removed.achievement.code),
    }
    assert f"progress {lowered.user.username} {lowered.achievement.code}" in out.getvalue()

    call_command("rebuild_stats", stdout=StringIO())

    assert held_off_goal() == set()
    call_command("rebuild_stats", "--check", stdout=StringIO())


class Terminal(StringIO):
    """Output that says it is a terminal, as `make run` in a shell has."""

    def isatty(self) -> bool:
        return True


def project_records(caplog, level: int) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= level and r.name.split(".")[0] in {"users", "achievements"}
    ]


def test_seeding_logs_a_summary_at_info_and_each_row_at_debug(caplog, settings):
    settings.DEBUG = True
    with caplog.at_level(logging.INFO):
        call_command("seed_demo_data", stdout=StringIO(), stderr=StringIO())
    at_info = [r.getMessage() for r in project_records(caplog, logging.INFO)]

    assert len(at_info) <= 3, at_info
    assert any(message.startswith("demo data:") for message in at_info)

    # The awards are logged once committed, which a test's transaction never is; each row
    # written in the test's transaction is there, at DEBUG.
    User.objects.all().delete()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        call_command("seed_demo_data", stdout=StringIO(), stderr=StringIO())
    details = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum(message.startswith("user created:") for message in details) == User.objects.count()
    assert not [r for r in project_records(caplog, logging.INFO) if "created" in r.getMessage()]


def test_seeding_into_a_log_shows_no_progress_and_ends_with_the_demo_access(settings):
    settings.DEBUG = True
    out = StringIO()

    call_command("seed_demo_data", stdout=out)

    output = out.getvalue()
    assert "\r" not in output
    lines = output.rstrip("\n").splitlines()
    assert lines[-1] == lines[-6] == "=" * 78
    assert lines[-5].strip() == "Demo access (DEBUG only)"
    assert "API token:" in lines[-3]
    assert lines[0].startswith("Added ")


def test_seeding_on_a_terminal_shows_its_progress(settings):
    settings.DEBUG = False
    out = Terminal()

    call_command("seed_demo_data", stdout=out)

    assert "\r  awards" in out.getvalue()


def test_a_benchmark_seed_does_not_read_like_an_error(caplog):
    with caplog.at_level(logging.INFO):
        call_command("seed_demo_data", "--users", "30", "--awards", "60", stdout=StringIO())
    at_info = " ".join(r.getMessage() for r in project_records(caplog, logging.INFO))

    assert "corrected" not in at_info
    assert "benchmark data:" in at_info
    assert not project_records(caplog, logging.WARNING)
