"""factory-boy factories for every model.

Factories write rows directly and bypass `services.py`, so they skip the services' validation
and do not maintain the users' stored figures (count, points, streak). Use them to set the
scene; when a test checks figures, grant through `achievements.services.award_grant` (the
`grant` fixture in conftest.py) instead of AwardFactory.
"""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from achievements.models import Achievement, Award
from users.models import User


class UserFactory(factory.django.DjangoModelFactory):
    """A user who earns achievements, with zero figures."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    language = "en"


class AchievementFactory(factory.django.DjangoModelFactory):
    """A catalog entry with texts in English and Russian."""

    class Meta:
        model = Achievement

    code = factory.Sequence(lambda n: f"achievement-{n}")
    points = 10
    name_en = factory.Sequence(lambda n: f"Achievement {n}")
    description_en = factory.Faker("sentence", locale="en_US")
    name_ru = factory.Sequence(lambda n: f"Достижение {n}")
    description_ru = factory.Faker("sentence", locale="ru_RU")


class OperatorFactory(factory.django.DjangoModelFactory):
    """A staff account of Django's own auth (an operator or an integration account)."""

    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"operator{n}")
    is_staff = True
    password = factory.django.Password("operator-password")


class AwardFactory(factory.django.DjangoModelFactory):
    """An Award row written directly, NOT through `award_grant`.

    The user's stored figures (achievements_count, points, longest_streak, streak_start,
    streak_end) are left as they were, so right after this factory they disagree with the
    awards. Tests that read figures must grant through `achievements.services.award_grant`
    (or call `figures_rebuild()` afterwards).
    """

    class Meta:
        model = Award

    user = factory.SubFactory(UserFactory)
    achievement = factory.SubFactory(AchievementFactory)
    awarded_at = factory.LazyFunction(timezone.now)
    awarded_by = None
