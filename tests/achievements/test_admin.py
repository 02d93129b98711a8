"""The operators' admin: every path that awards, revokes or changes points keeps figures exact."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.utils import timezone

from achievements.models import Achievement, Activity, Award, Progress
from achievements.queries import figures_mismatches
from achievements.services.progress import progress_increment
from tests.factories import AchievementFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

USERS = "/admin/users/user/"
AWARDS = "/admin/achievements/award/"
ACHIEVEMENTS = "/admin/achievements/achievement/"


def figures(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.achievements_count, user.points


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def no_inline_rows() -> dict:
    """The management forms of the user page's inlines (two for awards, one for progress),
    with no rows."""
    return {
        f"{prefix}-{field}": value
        for prefix in ("awards", "awards-2", "progress")
        for field, value in (
            ("TOTAL_FORMS", "0"),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        )
    }


def split(moment):
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def test_the_bulk_action_asks_which_achievement_then_awards_it_to_every_selected_user(
    admin_client, grant
):
    ann, bob, cid = UserFactory(), UserFactory(), UserFactory()
    owl = AchievementFactory(points=30)
    grant(bob, owl)
    selected = {"action": "award_achievement_to_users", ACTION_CHECKBOX_NAME: [ann.pk, bob.pk]}

    asked = admin_client.post(USERS, selected)
    assert asked.status_code == 200
    assert "Award an achievement" in asked.content.decode()

    done = admin_client.post(USERS, {**selected, "apply": "1", "achievement": owl.pk})

    assert done.status_code == 302
    assert messages_of(done) == [f"Awarded “{owl.name}” to 1 player; 1 already held it."]
    assert figures(ann) == (1, 30)
    assert figures(bob) == (1, 30)
    assert figures(cid) == (0, 0)
    assert Award.objects.get(user=ann).awarded_by.username == "admin"
    assert figures_mismatches() == []


def test_adding_an_award_records_the_operator_and_moves_the_figures(admin_client):
    ann, owl = UserFactory(), AchievementFactory(points=12)
    day, time = split(timezone.now() - timedelta(days=3))

    response = admin_client.post(
        f"{AWARDS}add/",
        {"user": ann.pk, "achievement": owl.pk, "awarded_at_0": day, "awarded_at_1": time},
    )

    assert response.status_code == 302
    award = Award.objects.get(user=ann, achievement=owl)
    assert award.awarded_by.username == "admin"
    assert figures(ann) == (1, 12)


def test_an_award_dated_in_the_future_is_a_form_error_not_a_server_error(admin_client):
    ann, owl = UserFactory(), AchievementFactory()
    day, time = split(timezone.now() + timedelta(days=2))

    response = admin_client.post(
        f"{AWARDS}add/",
        {"user": ann.pk, "achievement": owl.pk, "awarded_at_0": day, "awarded_at_1": time},
    )

    assert response.status_code == 200
    assert "cannot be dated in the future" in response.content.decode()
    assert not Award.objects.exists()


def test_deleting_an_award_in_the_admin_revokes_it(admin_client, grant):
    ann, owl = UserFactory(), AchievementFactory(points=40)
    award, _created = grant(ann, owl)

    response = admin_client.post(f"{AWARDS}{award.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Award.objects.exists()
    assert figures(ann) == (0, 0)


def test_the_revoke_action_revokes_every_selected_award(admin_client, grant):
    ann, owl, fox = UserFactory(), AchievementFactory(points=5), AchievementFactory(points=7)
    grant(ann, owl)
    grant(ann, fox)

    selected = list(Award.objects.values_list("pk", flat=True))

    asked = admin_client.post(AWARDS, {"action": "revoke_selected", ACTION_CHECKBOX_NAME: selected})
    response = admin_client.post(
        AWARDS,
        {
            "action": "revoke_selected",
            ACTION_CHECKBOX_NAME: selected,
            "reason": "Cheated at the quiz",
            "apply": "Revoke",
        },
    )

    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    assert response.status_code == 302
    assert figures(ann) == (0, 0)
    revoked = Activity.objects.filter(type=Activity.REVOKED)
    assert sorted(revoked.values_list("achievement", "reason")) == sorted(
        [(owl.code, "Cheated at the quiz"), (fox.code, "Cheated at the quiz")]
    )


def test_the_revoke_action_refuses_a_reason_over_500_characters(admin_client, grant):
    ann, owl = UserFactory(), AchievementFactory()
    award, _created = grant(ann, owl)

    response = admin_client.post(
        AWARDS,
        {
            "action": "revoke_selected",
            ACTION_CHECKBOX_NAME: [award.pk],
            "reason": "x" * 501,
            "apply": "Revoke",
        },
    )

    assert response.status_code == 200
    assert Award.objects.filter(pk=award.pk).exists()


def test_the_user_page_awards_and_revokes_through_its_inlines(admin_client, grant):
    ann = UserFactory(language="en")
    held, new = AchievementFactory(points=10), AchievementFactory(points=25)
    award, _created = grant(ann, held)
    day, time = split(timezone.now() - timedelta(hours=1))

    response = admin_client.post(
        f"{USERS}{ann.pk}/change/",
        {
            "language": "en",
            "time_zone": "UTC",
            "awards-TOTAL_FORMS": "1",
            "awards-INITIAL_FORMS": "1",
            "awards-MIN_NUM_FORMS": "0",
            "awards-MAX_NUM_FORMS": "1000",
            "awards-0-id": award.pk,
            "awards-0-user": ann.pk,
            "awards-0-DELETE": "on",
            "awards-2-TOTAL_FORMS": "1",
            "awards-2-INITIAL_FORMS": "0",
            "awards-2-MIN_NUM_FORMS": "0",
            "awards-2-MAX_NUM_FORMS": "1000",
            "awards-2-0-user": ann.pk,
            "awards-2-0-achievement": new.pk,
            "awards-2-0-awarded_at_0": day,
            "awards-2-0-awarded_at_1": time,
            # The read-only progress inline shows the held award's row.
            "progress-TOTAL_FORMS": "1",
            "progress-INITIAL_FORMS": "1",
            "progress-MIN_NUM_FORMS": "0",
            "progress-MAX_NUM_FORMS": "1000",
            "progress-0-id": Progress.objects.get(user=ann).pk,
            "progress-0-user": ann.pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(Award.objects.filter(user=ann).values_list("achievement", flat=True)) == [new.pk]
    assert figures(ann) == (1, 25)


def test_adding_a_user_whose_name_is_taken_in_another_case_is_refused(admin_client):
    UserFactory(username="Alice")

    response = admin_client.post(
        f"{USERS}add/",
        {"username": "alice", "language": "en", "time_zone": "UTC", **no_inline_rows()},
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_adding_a_user_in_the_admin_creates_it_with_zero_figures(admin_client):
    response = admin_client.post(
        f"{USERS}add/",
        {"username": "new.one", "language": "ru", "time_zone": "UTC", **no_inline_rows()},
    )

    assert response.status_code == 302
    created = User.objects.get(username="new.one")
    assert (created.language, created.achievements_count, created.points) == ("ru", 0, 0)


def test_changing_points_in_the_admin_moves_every_holders_total(admin_client, grant):
    ann, bob = UserFactory(), UserFactory()
    owl = AchievementFactory(points=10)
    grant(ann, owl)

    response = admin_client.post(
        f"{ACHIEVEMENTS}{owl.pk}/change/",
        {
            "points": 100,
            "goal": 1,
            "name_en": owl.name_en,
            "description_en": owl.description_en,
            "name_ru": "",
            "description_ru": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert figures(ann) == (1, 100)
    assert figures(bob) == (0, 0)


def test_an_achievement_added_without_a_code_gets_one_from_its_english_name(admin_client):
    response = admin_client.post(
        f"{ACHIEVEMENTS}add/",
        {
            "code": "",
            "points": 15,
            "goal": 1,
            "name_en": "Night Owl",
            "description_en": "Study after midnight.",
            "name_ru": "Сова",
            "description_ru": "Занимайтесь после полуночи.",
        },
    )

    assert response.status_code == 302
    assert Achievement.objects.get().code == "night-owl"


def test_an_awarded_achievement_cannot_be_deleted_from_the_admin(admin_client, grant):
    owl = AchievementFactory()
    grant(UserFactory(), owl)

    admin_client.post(f"{ACHIEVEMENTS}{owl.pk}/delete/", {"post": "yes"})

    assert Achievement.objects.filter(pk=owl.pk).exists()


@pytest.mark.parametrize(
    "query",
    ["?q=findme", "?q=the-code", "?achievement__id__exact={owl}", "?awarded_at__year={year}"],
)
def test_operators_find_awards_by_username_code_achievement_and_date(admin_client, grant, query):
    owl = AchievementFactory(code="the-code")
    grant(UserFactory(username="findme"), owl)
    grant(UserFactory(username="other"), AchievementFactory(code="elsewhere"))

    url = AWARDS + query.format(owl=owl.pk, year=timezone.localdate().year)
    response = admin_client.get(url)

    assert response.status_code == 200
    assert "findme" in response.content.decode()
    if "year" not in query:
        assert "other" not in response.content.decode()


def test_the_achievement_list_shows_how_many_hold_each(admin_client, grant):
    owl = AchievementFactory(code="popular")
    for _ in range(3):
        grant(UserFactory(), owl)

    response = admin_client.get(ACHIEVEMENTS)

    assert response.status_code == 200
    row = next(r for r in response.context["cl"].result_list if r.code == "popular")
    assert row.holder_count == 3


def test_goal_and_hidden_are_set_on_the_achievement_form(admin_client):
    response = admin_client.post(
        f"{ACHIEVEMENTS}add/",
        {
            "code": "cards",
            "points": 15,
            "goal": 100,
            "hidden": "on",
            "name_en": "Read 100 cards",
            "description_en": "Read a hundred flash cards.",
            "name_ru": "",
            "description_ru": "",
        },
    )

    assert response.status_code == 302
    assert Achievement.objects.values_list("goal", "hidden").get() == (100, True)


def test_a_frozen_goal_is_a_form_error_on_the_achievement_form(admin_client):
    cards = AchievementFactory(goal=10)
    progress_increment(user=UserFactory(), achievement=cards, increment=2)

    response = admin_client.post(
        f"{ACHIEVEMENTS}{cards.pk}/change/",
        {
            "points": cards.points,
            "goal": 20,
            "name_en": cards.name_en,
            "description_en": cards.description_en,
            "name_ru": "",
            "description_ru": "",
        },
    )

    assert response.status_code == 200
    assert "goal" in response.context["adminform"].form.errors
    cards.refresh_from_db()
    assert cards.goal == 10


def test_the_user_page_shows_progress_read_only(admin_client):
    ann = UserFactory()
    cards = AchievementFactory(goal=10, name_en="Read 10 cards")
    progress_increment(user=ann, achievement=cards, increment=7)

    page = admin_client.get(f"{USERS}{ann.pk}/change/").content.decode()

    assert "progress toward achievements" in page.lower()
    assert 'name="progress-0-steps"' not in page  # shown, not editable
    assert ">7<" in page


def test_the_bulk_action_sets_an_incremental_achievements_steps_to_its_goal(admin_client):
    ann = UserFactory()
    cards = AchievementFactory(goal=10, points=5)
    progress_increment(user=ann, achievement=cards, increment=3)
    selected = {"action": "award_achievement_to_users", ACTION_CHECKBOX_NAME: [ann.pk]}

    admin_client.post(USERS, {**selected, "apply": "1", "achievement": cards.pk})

    assert Progress.objects.get(user=ann, achievement=cards).steps == 10
    assert figures(ann) == (1, 5)


def test_the_user_page_changes_the_time_zone_and_moves_the_streak_days(admin_client, grant):
    ann = UserFactory(language="en")
    first, second = AchievementFactory(), AchievementFactory()
    # 23:30 and 00:30 UTC: two days in UTC, one day in Kathmandu (UTC+5:45).
    late = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=2)
    grant(ann, first, at=late)
    grant(ann, second, at=late + timedelta(hours=1))
    ann.refresh_from_db()
    assert ann.longest_streak == 2

    response = admin_client.post(
        f"{USERS}{ann.pk}/change/",
        {
            "language": "en",
            "time_zone": "Asia/Kathmandu",
            **no_inline_rows(),
            "progress-TOTAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    ann.refresh_from_db()
    assert (ann.time_zone, ann.longest_streak) == ("Asia/Kathmandu", 1)
