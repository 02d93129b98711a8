"""The catalog and award services: their rules, and the users' figures after every write."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from achievements.models import CODE_MAX_LENGTH, MAX_POINTS, Achievement, Award
from achievements.queries import figures_mismatches
from achievements.services import catalog
from achievements.services.awards import award_grant, award_grant_many, award_revoke
from achievements.services.catalog import (
    AchievementInUse,
    achievement_create,
    achievement_delete,
    achievement_update,
)
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from users.models import User
from users.services import user_delete

pytestmark = pytest.mark.django_db


def create(points=10, name="Night Owl", description="Play after midnight.", **kwargs):
    """An achievement through the service, English texts unless `names`/`descriptions` say."""
    return achievement_create(
        points=points,
        names=kwargs.pop("names", {"en": name}),
        descriptions=kwargs.pop("descriptions", {"en": description}),
        **kwargs,
    )


def figures(user: User) -> tuple[int, int]:
    """The user's stored (achievements_count, points), fresh from the database."""
    user.refresh_from_db()
    return user.achievements_count, user.points


# The catalog ----------------------------------------------------------------------------------


def test_creating_an_achievement_stores_points_and_texts_in_every_language():
    achievement = create(
        points=50,
        code="night-owl",
        names={"en": "Night Owl", "ru": "Сова"},
        descriptions={"en": "Play after midnight.", "ru": "Играть после полуночи."},
    )

    achievement = Achievement.objects.get(pk=achievement.pk)
    assert (achievement.code, achievement.points) == ("night-owl", 50)
    assert (achievement.name_en, achievement.name_ru) == ("Night Owl", "Сова")
    assert achievement.description_ru == "Играть после полуночи."
    assert achievement.created_at is not None


@pytest.mark.parametrize("points", [1, MAX_POINTS])
def test_points_at_the_bounds_are_accepted(points):
    assert create(points=points).points == points


@pytest.mark.parametrize("points", [0, -1, MAX_POINTS + 1])
def test_points_out_of_range_are_refused_on_the_points_field(points):
    with pytest.raises(ValidationError) as excinfo:
        create(points=points)

    assert "points" in excinfo.value.message_dict
    assert not Achievement.objects.exists()


@pytest.mark.parametrize("points", [True, 1.5, "10"], ids=["bool", "fraction", "str"])
def test_points_that_are_not_an_integer_are_refused_on_the_points_field(points):
    # SPEC "Data": fractions, strings and booleans are rejected, not coerced.
    with pytest.raises(ValidationError) as excinfo:
        create(points=points)

    assert "points" in excinfo.value.message_dict
    assert not Achievement.objects.exists()


def test_without_a_code_one_is_made_from_the_english_name():
    achievement = create(names={"en": "Night Owl: the  Return!", "ru": "Сова"})

    assert achievement.code == "night-owl-the-return"


def test_a_generated_code_that_is_taken_gets_a_numbered_suffix():
    codes = [create(name="Night Owl").code for _ in range(3)]

    assert codes == ["night-owl", "night-owl-2", "night-owl-3"]


def test_a_generated_code_skips_a_suffix_taken_by_an_explicit_code():
    create(code="night-owl")
    create(code="night-owl-2")

    assert create(name="Night Owl").code == "night-owl-3"


def test_a_generated_code_is_cut_to_the_maximum_length_suffix_included():
    long_name = "Marathon " * 20

    first, second = create(name=long_name), create(name=long_name)

    assert len(first.code) <= CODE_MAX_LENGTH
    assert first.code.startswith("marathon-marathon")
    assert not first.code.endswith("-")
    assert len(second.code) <= CODE_MAX_LENGTH
    assert second.code.endswith("-2")
    assert "--" not in second.code
    assert second.code != first.code


def stale_code_lookups(monkeypatch, stale: int) -> None:
    """Make the first `stale` code look-ups answer "free", as they do in a create that runs
    while a concurrent create from the same name inserts that very code."""
    real = catalog._code_taken
    calls = {"n": 0}

    def looked_up_too_early(code: str) -> bool:
        calls["n"] += 1
        return False if calls["n"] <= stale else real(code)

    monkeypatch.setattr(catalog, "_code_taken", looked_up_too_early)


def test_a_generated_code_lost_to_a_concurrent_create_takes_the_next_free_suffix(monkeypatch):
    create(name="Night Owl")
    stale_code_lookups(monkeypatch, stale=1)

    achievement = create(name="Night Owl")

    assert achievement.code == "night-owl-2"
    assert sorted(Achievement.objects.values_list("code", flat=True)) == [
        "night-owl",
        "night-owl-2",
    ]


def test_a_create_that_keeps_losing_races_gives_up_naming_the_name_not_the_code(monkeypatch):
    create(name="Night Owl")
    stale_code_lookups(monkeypatch, stale=10_000)

    with pytest.raises(ValidationError) as excinfo:
        create(name="Night Owl")

    assert list(excinfo.value.message_dict) == ["name_en"]
    assert Achievement.objects.count() == 1


@pytest.mark.parametrize("name", ["Сова", "夜猫子", "!!!", "---"])
def test_an_english_name_without_ascii_letters_or_digits_gives_the_code_achievement(name):
    first, second = create(name=name), create(name=name)

    assert (first.code, second.code) == ("achievement", "achievement-2")


def test_an_explicit_code_is_kept_as_given():
    assert create(name="Night Owl", code="owl_01").code == "owl_01"


def test_a_taken_code_is_refused_on_the_code_field():
    create(code="night-owl")

    with pytest.raises(ValidationError) as excinfo:
        create(code="night-owl", name="Another")

    assert excinfo.value.message_dict["code"] == ["An achievement with this code already exists."]
    assert Achievement.objects.count() == 1


@pytest.mark.parametrize("code", ["Night-Owl", "night owl", "сова", "owl!", "x" * 65])
def test_a_malformed_code_is_refused_on_the_code_field(code):
    with pytest.raises(ValidationError) as excinfo:
        create(code=code)

    assert "code" in excinfo.value.message_dict
    assert not Achievement.objects.exists()


@pytest.mark.parametrize(
    ("names", "descriptions", "missing"),
    [
        ({"ru": "Сова"}, {"en": "Text."}, "name_en"),
        ({"en": "Owl"}, {"ru": "Текст."}, "description_en"),
        ({"en": "   "}, {"en": "Text."}, "name_en"),
        ({"en": ""}, {"en": ""}, "description_en"),
    ],
)
def test_english_texts_are_required(names, descriptions, missing):
    with pytest.raises(ValidationError) as excinfo:
        create(names=names, descriptions=descriptions)

    assert missing in excinfo.value.message_dict
    assert not Achievement.objects.exists()


def test_a_language_that_is_not_configured_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        create(names={"en": "Owl", "de": "Eule"})

    assert "name" in excinfo.value.message_dict


@pytest.mark.parametrize("russian", [None, ""], ids=["absent", "empty"])
def test_a_missing_russian_translation_reads_as_the_english_one(russian):
    names = {"en": "Night Owl"} if russian is None else {"en": "Night Owl", "ru": russian}
    descriptions = {"en": "Play late."} if russian is None else {"en": "Play late.", "ru": russian}
    achievement = create(names=names, descriptions=descriptions)

    achievement = Achievement.objects.get(pk=achievement.pk)
    assert achievement.name_ru is None
    with translation.override("ru"):
        assert (achievement.name, achievement.description) == ("Night Owl", "Play late.")


def test_updating_texts_changes_only_the_language_given():
    achievement = create(names={"en": "Owl", "ru": "Сова"})

    achievement_update(achievement=achievement, names={"ru": "Филин"})

    achievement.refresh_from_db()
    assert (achievement.name_en, achievement.name_ru) == ("Owl", "Филин")


def test_an_update_cannot_remove_the_english_name():
    achievement = create(name="Owl")

    with pytest.raises(ValidationError) as excinfo:
        achievement_update(achievement=achievement, names={"en": ""})

    assert "name_en" in excinfo.value.message_dict
    achievement.refresh_from_db()
    assert achievement.name_en == "Owl"


# Granting and revoking ------------------------------------------------------------------------


def test_granting_creates_an_award_and_says_so(user, achievement, operator):
    at = timezone.now() - timedelta(days=3)

    award, created = award_grant(user=user, achievement=achievement, awarded_at=at, by=operator)

    assert created is True
    assert (award.user, award.achievement, award.awarded_at, award.awarded_by) == (
        user,
        achievement,
        at,
        operator,
    )
    assert Award.objects.get() == award


def test_an_award_without_a_time_is_dated_now(user, achievement):
    before = timezone.now()

    award, _ = award_grant(user=user, achievement=achievement)

    assert before <= award.awarded_at <= timezone.now()
    assert award.awarded_by is None


def test_awarding_twice_keeps_the_first_award(user, achievement):
    first_at = timezone.now() - timedelta(days=10)
    first, _ = award_grant(user=user, achievement=achievement, awarded_at=first_at)

    again, created = award_grant(
        user=user,
        achievement=achievement,
        awarded_at=timezone.now() - timedelta(days=1),
        by=OperatorFactory(),
    )

    assert created is False
    assert again.pk == first.pk
    assert (again.awarded_at, again.awarded_by) == (first_at, None)
    assert Award.objects.get().awarded_at == first_at
    assert figures(user) == (1, achievement.points)


@pytest.mark.parametrize(
    "awarded_at",
    [
        pytest.param(timezone.now() + timedelta(days=1), id="future"),
        pytest.param(datetime(2024, 5, 1, 10, 0), id="naive"),
        pytest.param(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), id="before-1970"),
        pytest.param(datetime(1, 1, 1, tzinfo=UTC), id="year-1"),
    ],
)
def test_an_award_time_in_the_future_without_a_zone_or_before_1970_is_refused(
    user, achievement, awarded_at
):
    with pytest.raises(ValidationError) as excinfo:
        award_grant(user=user, achievement=achievement, awarded_at=awarded_at)

    assert list(excinfo.value.message_dict) == ["awarded_at"]
    assert not Award.objects.exists()
    assert figures(user) == (0, 0)


def test_a_moment_just_ahead_of_now_is_already_the_future(user, achievement):
    with pytest.raises(ValidationError):
        award_grant(
            user=user, achievement=achievement, awarded_at=timezone.now() + timedelta(seconds=5)
        )


def test_the_first_moment_of_1970_is_accepted(user, achievement):
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    award, created = award_grant(user=user, achievement=achievement, awarded_at=epoch)

    assert created and award.awarded_at == epoch


def test_an_award_time_in_another_zone_is_the_same_moment(user, achievement):
    moscow = datetime(2024, 5, 1, 3, 0, tzinfo=timezone.get_fixed_timezone(180))

    award, _ = award_grant(user=user, achievement=achievement, awarded_at=moscow)

    award.refresh_from_db()
    assert award.awarded_at == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def test_revoking_removes_the_award(user, achievement, grant):
    grant(user, achievement)

    award_revoke(user=user, achievement=achievement)

    assert not Award.objects.exists()


def test_revoking_something_not_held_raises_does_not_exist_and_changes_nothing(grant):
    alice, bob = UserFactory(), UserFactory()
    held, other = AchievementFactory(points=5), AchievementFactory()
    grant(alice, held)
    grant(bob, other)

    with pytest.raises(Award.DoesNotExist):
        award_revoke(user=alice, achievement=other)

    assert Award.objects.count() == 2
    assert figures(alice) == (1, 5)


def test_an_achievement_revoked_can_be_granted_again_as_a_new_award(user, achievement, grant):
    first, _ = grant(user, achievement, days_ago=5)
    award_revoke(user=user, achievement=achievement)

    second, created = grant(user, achievement, days_ago=1)

    assert created is True
    assert second.pk != first.pk
    assert figures(user) == (1, achievement.points)


def test_granting_to_many_counts_new_and_existing_holders(grant, operator):
    achievement = AchievementFactory(points=7)
    holder, *newcomers = UserFactory.create_batch(4)
    grant(holder, achievement)

    newly, already = award_grant_many(
        users=[*reversed(newcomers), holder], achievement=achievement, by=operator
    )

    assert (newly, already) == (3, 1)
    assert Award.objects.filter(achievement=achievement).count() == 4
    assert Award.objects.filter(awarded_by=operator).count() == 3
    for user in [holder, *newcomers]:
        assert figures(user) == (1, 7)


def test_granting_to_nobody_awards_nothing(achievement):
    assert award_grant_many(users=[], achievement=achievement) == (0, 0)


# Figures after each kind of write -------------------------------------------------------------


def test_a_grant_adds_one_achievement_and_its_points_to_the_holder(grant):
    user = UserFactory()
    grant(user, AchievementFactory(points=10))
    grant(user, AchievementFactory(points=25))

    assert figures(user) == (2, 35)


def test_a_grant_changes_nobody_elses_figures(grant):
    alice, bob = UserFactory(), UserFactory()
    grant(bob, AchievementFactory(points=3))

    grant(alice, AchievementFactory(points=10))

    assert figures(bob) == (1, 3)


def test_a_revocation_takes_back_the_achievement_and_its_points(grant):
    user = UserFactory()
    kept, revoked = AchievementFactory(points=10), AchievementFactory(points=25)
    grant(user, kept)
    grant(user, revoked)

    award_revoke(user=user, achievement=revoked)

    assert figures(user) == (1, 10)


def test_revoking_the_last_award_brings_the_figures_back_to_zero(user, achievement, grant):
    grant(user, achievement)

    award_revoke(user=user, achievement=achievement)

    user.refresh_from_db()
    assert (user.achievements_count, user.points, user.longest_streak) == (0, 0, 0)
    assert (user.streak_start, user.streak_end) == (None, None)


@pytest.mark.parametrize(("old", "new"), [(10, 40), (40, 10), (10, MAX_POINTS), (MAX_POINTS, 1)])
def test_a_points_change_moves_every_holders_total_and_nobody_elses(grant, old, new):
    changed, other = AchievementFactory(points=old), AchievementFactory(points=5)
    holders = UserFactory.create_batch(3)
    bystander = UserFactory()
    for user in holders:
        grant(user, changed)
        grant(user, other)
    grant(bystander, other)

    achievement_update(achievement=changed, points=new)

    for user in holders:
        assert figures(user) == (2, new + 5)
    assert figures(bystander) == (1, 5)
    assert figures_mismatches() == []


def test_a_points_change_keeps_the_streak(grant, user):
    achievement = AchievementFactory(points=10)
    grant(user, achievement, days_ago=2)
    grant(user, AchievementFactory(), days_ago=1)
    user.refresh_from_db()
    streak = (user.longest_streak, user.streak_start, user.streak_end)

    achievement_update(achievement=achievement, points=20)

    user.refresh_from_db()
    assert (user.longest_streak, user.streak_start, user.streak_end) == streak


def test_a_refused_points_change_leaves_the_totals_alone(grant, user):
    achievement = AchievementFactory(points=10)
    grant(user, achievement)

    with pytest.raises(ValidationError):
        achievement_update(achievement=achievement, points=0)

    achievement.refresh_from_db()
    assert achievement.points == 10
    assert figures(user) == (1, 10)


def test_an_update_without_points_leaves_the_totals_alone(grant, user):
    achievement = AchievementFactory(points=10)
    grant(user, achievement)

    achievement_update(achievement=achievement, names={"en": "Renamed"})

    assert figures(user) == (1, 10)


def test_an_achievement_somebody_holds_cannot_be_deleted(grant, user):
    achievement = AchievementFactory(points=10)
    grant(user, achievement)

    with pytest.raises(AchievementInUse, match="1 user"):
        achievement_delete(achievement=achievement)

    assert Achievement.objects.filter(pk=achievement.pk).exists()
    assert Award.objects.filter(achievement=achievement).count() == 1
    assert figures(user) == (1, 10)


def test_an_achievement_nobody_ever_held_can_be_deleted(achievement):
    achievement_delete(achievement=achievement)

    assert not Achievement.objects.filter(pk=achievement.pk).exists()


def test_an_achievement_can_be_deleted_once_every_award_is_revoked(grant):
    achievement = AchievementFactory()
    users = UserFactory.create_batch(2)
    for user in users:
        grant(user, achievement)
    for user in users:
        award_revoke(user=user, achievement=achievement)

    achievement_delete(achievement=achievement)

    assert not Achievement.objects.exists()
    assert figures_mismatches() == []


def test_deleting_a_user_leaves_the_other_holders_figures_alone(grant):
    shared = AchievementFactory(points=10)
    leaving, staying = UserFactory(), UserFactory()
    for user in (leaving, staying):
        grant(user, shared)
    grant(leaving, AchievementFactory(points=99))

    user_delete(user=leaving)

    assert not User.objects.filter(pk=leaving.pk).exists()
    assert not Award.objects.filter(user_id=leaving.pk).exists()
    assert figures(staying) == (1, 10)
    assert figures_mismatches() == []


def test_an_achievement_held_only_by_a_deleted_user_can_then_be_deleted(grant, user, achievement):
    grant(user, achievement)

    user_delete(user=user)
    achievement_delete(achievement=achievement)

    assert not Achievement.objects.exists()


# Writes that lose a race with a deletion ------------------------------------------------------
# Committed for real (transaction=True): foreign keys are checked when the transaction commits.


@pytest.mark.django_db(transaction=True)
def test_granting_an_achievement_deleted_meanwhile_raises_does_not_exist():
    user = UserFactory()
    achievement = AchievementFactory()
    seen_before_deletion = Achievement.objects.get(pk=achievement.pk)
    achievement_delete(achievement=achievement)

    with pytest.raises(Achievement.DoesNotExist):
        award_grant(user=user, achievement=seen_before_deletion)

    assert not Award.objects.exists()
    assert figures(user) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_granting_to_a_user_deleted_meanwhile_raises_does_not_exist():
    user, achievement = UserFactory(), AchievementFactory()
    seen_before_deletion = User.objects.get(pk=user.pk)
    user_delete(user=user)

    with pytest.raises(User.DoesNotExist):
        award_grant(user=seen_before_deletion, achievement=achievement)

    assert not Award.objects.exists()
