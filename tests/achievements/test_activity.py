"""The activity feed: one entry per grant and revocation, whatever the path, and the API."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from achievements.models import Activity, Award
from achievements.services.awards import award_grant, award_grant_many, award_revoke
from achievements.services.bulk import awards_bulk_load
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from tests.helpers import token_client

FEED = "/api/v1/activity/"

pytestmark = pytest.mark.django_db


def entries() -> list[tuple]:
    return list(Activity.objects.order_by("id").values_list("type", "user", "achievement"))


def test_a_grant_records_one_entry_with_the_contract_fields():
    ann, owl, boss = UserFactory(), AchievementFactory(points=15), OperatorFactory()
    at = timezone.now() - timedelta(days=2)

    award_grant(user=ann, achievement=owl, awarded_at=at, by=boss)

    entry = Activity.objects.get()
    assert (entry.type, entry.user, entry.achievement, entry.points) == (
        "award.granted",
        ann.username,
        owl.code,
        15,
    )
    assert (entry.at, entry.by, entry.reason) == (at, boss.username, "")


def test_granting_what_is_held_records_nothing_more(grant):
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)
    grant(ann, owl)

    assert entries() == [("award.granted", ann.username, owl.code)]


def test_a_revocation_records_its_reason_and_the_points_at_that_moment(grant):
    ann, owl = UserFactory(), AchievementFactory(points=7)
    grant(ann, owl)

    award_revoke(user=ann, achievement=owl, reason="Cheated")

    entry = Activity.objects.get(type=Activity.REVOKED)
    assert (entry.user, entry.achievement, entry.points, entry.reason) == (
        ann.username,
        owl.code,
        7,
        "Cheated",
    )


def test_a_reason_over_500_characters_is_refused_and_nothing_is_revoked(grant):
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)

    with pytest.raises(ValidationError):
        award_revoke(user=ann, achievement=owl, reason="x" * 501)

    assert Award.objects.count() == 1
    assert Activity.objects.filter(type=Activity.REVOKED).count() == 0


def test_a_failed_revocation_records_nothing():
    ann, owl = UserFactory(), AchievementFactory()

    with pytest.raises(Award.DoesNotExist):
        award_revoke(user=ann, achievement=owl)

    assert entries() == []


def test_a_bulk_grant_records_an_entry_per_new_award_only(grant):
    ann, bob, cat, owl = UserFactory(), UserFactory(), UserFactory(), AchievementFactory()
    grant(bob, owl)

    award_grant_many(users=[cat, ann, bob], achievement=owl)

    assert sorted(e[1] for e in entries()) == sorted([bob.username, ann.username, cat.username])


def test_the_bulk_loader_records_no_activity():
    ann, owl = UserFactory(), AchievementFactory()

    added = awards_bulk_load([(ann.pk, owl.pk, timezone.now())])

    assert added == 1
    assert entries() == []


def test_the_seeding_command_records_its_grants(django_user_model):
    from django.core.management import call_command

    call_command("seed_demo_data", verbosity=0)

    assert Activity.objects.filter(type=Activity.GRANTED).count() == Award.objects.count() > 0


# The API.


def test_the_feed_needs_credentials(anonymous):
    assert anonymous.get(FEED).status_code == 401


def test_the_feed_needs_the_view_activity_permission(unprivileged):
    assert unprivileged.get(FEED).status_code == 403


def test_the_feed_reads_entries_oldest_first_with_a_next_cursor(api, grant):
    ann, owl, fox = UserFactory(), AchievementFactory(), AchievementFactory()
    grant(ann, owl)
    grant(ann, fox)
    award_revoke(user=ann, achievement=owl, reason="Oops")
    ids = list(Activity.objects.order_by("id").values_list("id", flat=True))

    first = api.get(FEED, {"limit": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert set(first) == {"results", "next"}
    assert [e["id"] for e in first["results"]] == ids[:2]
    assert first["results"][0] == {
        "id": ids[0],
        "type": "award.granted",
        "user": ann.username,
        "achievement": owl.code,
        "points": owl.points,
        "at": first["results"][0]["at"],
        "by": None,
        "reason": None,
    }
    assert [(e["id"], e["type"], e["reason"]) for e in second["results"]] == [
        (ids[2], "award.revoked", "Oops")
    ]
    assert f"after={ids[1]}" in first["next"] and "limit=2" in first["next"]
    assert third["results"] == [] and f"after={ids[2]}" in third["next"]


def test_the_feed_filters_by_user_in_any_case(api, grant):
    ann, bob, owl = UserFactory(username="Ann"), UserFactory(), AchievementFactory()
    grant(ann, owl)
    grant(bob, owl)

    body = api.get(FEED, {"user": "ann"}).json()

    assert [e["user"] for e in body["results"]] == ["Ann"]


@pytest.mark.parametrize("after", ["-1", "x", "1.5", "+2"])
def test_a_bad_cursor_is_a_400_naming_after(api, after):
    response = api.get(FEED, {"after": after})

    assert response.status_code == 400
    assert "after" in response.json()


def test_the_feed_caps_its_limit_at_1000_like_every_list(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = api.get(FEED, {"limit": 5000})

    assert response.status_code == 200


def test_revoking_over_the_api_records_the_reason_from_the_body(api, grant):
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)

    response = api.delete(
        f"/api/v1/users/{ann.username}/achievements/{owl.code}/", {"reason": "Refund"}
    )

    assert response.status_code == 204
    assert Activity.objects.get(type=Activity.REVOKED).reason == "Refund"


def test_revoking_over_the_api_takes_the_reason_from_the_query_too(api, grant):
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)

    response = api.delete(f"/api/v1/users/{ann.username}/achievements/{owl.code}/?reason=Spam")

    assert response.status_code == 204
    assert Activity.objects.get(type=Activity.REVOKED).reason == "Spam"


@pytest.mark.parametrize("reason", ["x" * 501, 5])
def test_a_bad_reason_is_a_400_and_revokes_nothing(api, grant, reason):
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)

    response = api.delete(
        f"/api/v1/users/{ann.username}/achievements/{owl.code}/", {"reason": reason}
    )

    assert response.status_code == 400
    assert "reason" in response.json()
    assert Award.objects.count() == 1


def test_a_superuser_token_reads_the_feed(grant):
    from rest_framework.authtoken.models import Token

    boss = OperatorFactory(is_superuser=True)
    ann, owl = UserFactory(), AchievementFactory()
    grant(ann, owl)

    body = token_client(Token.objects.create(user=boss).key).get(FEED).json()

    assert [e["user"] for e in body["results"]] == [ann.username]
