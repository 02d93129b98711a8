"""Creating, changing, finding and deleting users through the services and selectors."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from achievements.models import Award
from tests.factories import UserFactory
from users.models import USERNAME_MAX_LENGTH, User
from users.selectors import user_get, user_list, user_username_taken
from users.services import user_create, user_delete, user_update

pytestmark = pytest.mark.django_db


def test_creating_a_user_stores_the_name_as_given_with_zero_figures():
    user = user_create(username="Alice", language="ru")

    user.refresh_from_db()
    assert (user.username, user.language) == ("Alice", "ru")
    assert (user.achievements_count, user.points, user.longest_streak) == (0, 0, 0)


def test_a_new_user_reads_in_english_unless_told_otherwise():
    assert user_create(username="alice").language == "en"


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice", "aLICE"])
def test_a_username_taken_in_any_case_is_refused_on_the_username_field(taken):
    user_create(username="Alice")

    with pytest.raises(ValidationError) as excinfo:
        user_create(username=taken)

    assert list(excinfo.value.message_dict) == ["username"]
    assert excinfo.value.message_dict["username"] == ["A user with that username already exists."]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "username",
    ["", "x" * (USERNAME_MAX_LENGTH + 1), "bad name", "Алиса", "naïve", "emoji🙂", "tab\t"],
)
def test_a_malformed_username_is_refused_on_the_username_field(username):
    with pytest.raises(ValidationError) as excinfo:
        user_create(username=username)

    assert "username" in excinfo.value.message_dict
    assert not User.objects.exists()


def test_the_longest_allowed_username_is_accepted():
    name = "a" * USERNAME_MAX_LENGTH

    assert user_create(username=name).username == name


def test_an_unconfigured_language_is_refused_on_the_language_field():
    with pytest.raises(ValidationError) as excinfo:
        user_create(username="alice", language="de")

    assert list(excinfo.value.message_dict) == ["language"]
    assert not User.objects.exists()


def test_changing_the_language_keeps_everything_else():
    user = user_create(username="alice")

    user_update(user=user, language="ru")

    user.refresh_from_db()
    assert (user.username, user.language) == ("alice", "ru")


def test_changing_to_an_unconfigured_language_is_refused_and_changes_nothing():
    user = user_create(username="alice")

    with pytest.raises(ValidationError) as excinfo:
        user_update(user=user, language="xx")

    assert list(excinfo.value.message_dict) == ["language"]
    user.refresh_from_db()
    assert user.language == "en"


def test_deleting_a_user_removes_their_awards(grant, achievement):
    user = user_create(username="alice")
    grant(user, achievement)

    user_delete(user=user)

    assert not User.objects.filter(username="alice").exists()
    assert not Award.objects.exists()


@pytest.mark.parametrize("lookup", ["MixedCase", "mixedcase", "MIXEDCASE", "mIxEdCaSe"])
def test_a_user_is_found_by_username_in_any_case(lookup):
    user = UserFactory(username="MixedCase")

    assert user_get(lookup) == user
    assert user_username_taken(lookup)


def test_a_non_ascii_look_alike_of_a_username_finds_nobody():
    UserFactory(username="kate")

    with pytest.raises(User.DoesNotExist):
        user_get("\u212aate")  # KELVIN SIGN, which Python lower-cases to "k"
    assert not user_username_taken("\u212aate")


def test_looking_up_an_unknown_username_raises_does_not_exist():
    UserFactory(username="alice")

    with pytest.raises(User.DoesNotExist):
        user_get("alicia")
    assert not user_username_taken("alicia")


def test_the_user_list_is_in_code_point_order():
    for name in ["bob", "Zed", "alice", "Bobby", "_under"]:
        UserFactory(username=name)

    assert [u.username for u in user_list()] == ["Bobby", "Zed", "_under", "alice", "bob"]


def test_a_user_can_be_created_with_a_past_joining_time():
    joined = timezone.now() - timedelta(days=30)

    user = user_create(username="old.timer", created_at=joined)

    user.refresh_from_db()
    assert user.created_at == joined
