"""Building blocks of the page tests' scene, written through the services so figures are exact."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from achievements.models import Achievement
from achievements.services.awards import award_grant
from achievements.services.catalog import achievement_create
from users.models import User

# A fixed past moment: dates on the pages are predictable.
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Scene:
    """anna (en): 3 awards on 3 days in a row, 60 points. boris (ru): 2 awards, 30 points.
    vera.k (ru): the same 30 points by one award. idle (en): nothing. `untranslated` has no
    Russian texts."""

    anna: User
    boris: User
    vera: User
    idle: User
    owl: Achievement
    pie: Achievement
    untranslated: Achievement
    rare: Achievement


def achievement(code: str, points: int, en: str, ru: str = "") -> Achievement:
    return achievement_create(
        code=code,
        points=points,
        names={"en": en, "ru": ru},
        descriptions={
            "en": f"{en}: the English description.",
            "ru": f"{ru}: описание по-русски." if ru else "",
        },
    )


def grant(user: User, achievement: Achievement, day: int) -> None:
    award_grant(user=user, achievement=achievement, awarded_at=START + timedelta(days=day))
