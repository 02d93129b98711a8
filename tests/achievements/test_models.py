"""What the achievements tables guarantee on their own, even when the services are bypassed."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import translation

from achievements.models import MAX_POINTS, Achievement, Award
from tests.factories import AchievementFactory, AwardFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("points", [0, -1, MAX_POINTS + 1])
def test_the_database_refuses_to_create_an_achievement_with_points_out_of_range(points):
    with pytest.raises(IntegrityError), transaction.atomic():
        AchievementFactory(points=points)

    assert not Achievement.objects.exists()


@pytest.mark.parametrize("points", [0, -5, MAX_POINTS + 1])
def test_the_database_refuses_to_update_points_out_of_range(points):
    achievement = AchievementFactory(points=10)

    with pytest.raises(IntegrityError), transaction.atomic():
        Achievement.objects.filter(pk=achievement.pk).update(points=points)

    achievement.refresh_from_db()
    assert achievement.points == 10


@pytest.mark.parametrize("points", [1, MAX_POINTS])
def test_the_database_accepts_the_bounds_of_the_points_range(points):
    assert AchievementFactory(points=points).points == points


def test_the_database_refuses_a_duplicate_code():
    AchievementFactory(code="first-steps")

    with pytest.raises(IntegrityError), transaction.atomic():
        AchievementFactory(code="first-steps")


def test_the_database_refuses_a_second_award_of_the_same_achievement_to_a_user():
    award = AwardFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        AwardFactory(user=award.user, achievement=award.achievement)

    assert Award.objects.count() == 1


def test_bulk_create_cannot_slip_a_duplicate_award_past_the_database():
    user, achievement = UserFactory(), AchievementFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Award.objects.bulk_create(
            [Award(user=user, achievement=achievement), Award(user=user, achievement=achievement)]
        )

    assert not Award.objects.exists()


def test_the_same_achievement_may_be_held_by_many_users_and_a_user_may_hold_many():
    first, second = AchievementFactory(), AchievementFactory()
    alice, bob = UserFactory(), UserFactory()

    for user in (alice, bob):
        for achievement in (first, second):
            AwardFactory(user=user, achievement=achievement)

    assert Award.objects.count() == 4


def test_an_awarded_achievement_cannot_be_deleted_behind_the_services_back():
    award = AwardFactory()

    with pytest.raises(ProtectedError), transaction.atomic():
        Achievement.objects.filter(pk=award.achievement_id).delete()

    assert Achievement.objects.filter(pk=award.achievement_id).exists()


def test_awards_read_newest_first():
    user = UserFactory()
    older = AwardFactory(user=user)
    newer = AwardFactory(user=user, awarded_at=older.awarded_at.replace(year=2030))

    assert list(user.awards.all()) == [newer, older]


def test_name_and_description_follow_the_active_language():
    achievement = AchievementFactory(
        name_en="Night Owl",
        description_en="Play after midnight.",
        name_ru="Сова",
        description_ru="Играть после полуночи.",
    )

    with translation.override("ru"):
        assert (achievement.name, achievement.description) == ("Сова", "Играть после полуночи.")
    with translation.override("en"):
        assert (achievement.name, achievement.description) == ("Night Owl", "Play after midnight.")


def test_a_missing_russian_text_falls_back_to_english():
    achievement = AchievementFactory(
        name_en="Night Owl",
        description_en="Play after midnight.",
        name_ru=None,
        description_ru=None,
    )
    achievement = Achievement.objects.get(pk=achievement.pk)

    with translation.override("ru"):
        assert (achievement.name, achievement.description) == ("Night Owl", "Play after midnight.")


def test_the_achievement_and_the_award_read_with_name_code_and_username():
    achievement = AchievementFactory(code="night-owl", name_en="Night Owl")
    award = AwardFactory(user=UserFactory(username="alice"), achievement=achievement)

    with translation.override("en"):
        assert str(achievement) == "Night Owl (night-owl)"
    assert str(award) == "alice · night-owl"
