"""The users table holds the username rules the services rely on, even when they are bypassed."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import UserFactory
from users.models import USERNAME_MAX_LENGTH, User

pytestmark = pytest.mark.django_db


def test_a_new_user_starts_with_zero_figures_and_english():
    user = User.objects.create(username="newcomer")

    assert user.language == "en"
    assert user.created_at is not None
    assert (user.achievements_count, user.points, user.longest_streak) == (0, 0, 0)
    assert (user.streak_start, user.streak_end) == (None, None)


def test_the_user_reads_as_its_username():
    assert str(UserFactory(username="Alice")) == "Alice"


@pytest.mark.parametrize("other_case", ["alice", "ALICE", "aLiCe"])
def test_the_database_refuses_a_username_differing_only_in_case(other_case):
    User.objects.create(username="Alice")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username=other_case)

    assert User.objects.count() == 1


def test_bulk_create_cannot_slip_a_case_variant_past_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(username="Bob"), User(username="bOB")])

    assert not User.objects.exists()


def test_renaming_into_a_taken_name_in_another_case_is_refused_by_the_database():
    User.objects.create(username="carol")
    dave = User.objects.create(username="dave")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=dave.pk).update(username="CAROL")


def test_the_database_refuses_negative_stored_points():
    user = UserFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(points=-1)


@pytest.mark.parametrize(
    "username",
    ["a", "Alice", "alice_99", "a.b+c-d_e@f", "0", "@", "x" * USERNAME_MAX_LENGTH],
)
def test_usernames_of_ascii_letters_digits_and_at_dot_plus_dash_underscore_are_valid(username):
    User(username=username).full_clean()


@pytest.mark.parametrize(
    "username",
    [
        "",
        "x" * (USERNAME_MAX_LENGTH + 1),
        "with space",
        "alice\n",
        "semi;colon",
        "slash/",
        "Алиса",
        "café",
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth "alice"
        "\u212aate",  # KELVIN SIGN, which Python lower-cases to an ASCII "k"
    ],
)
def test_other_usernames_are_invalid(username):
    with pytest.raises(ValidationError) as excinfo:
        User(username=username).full_clean()

    assert "username" in excinfo.value.message_dict


def test_language_must_be_one_of_the_configured_languages(settings):
    assert [code for code, _ in User._meta.get_field("language").choices] == [
        code for code, _ in settings.LANGUAGES
    ]
    User(username="ru_reader", language="ru").full_clean()

    with pytest.raises(ValidationError) as excinfo:
        User(username="de_reader", language="de").full_clean()

    assert "language" in excinfo.value.message_dict


@pytest.mark.parametrize("username", [".", "..", "...", "." * USERNAME_MAX_LENGTH])
def test_a_username_of_dots_only_is_invalid(username):
    with pytest.raises(ValidationError) as excinfo:
        User(username=username).full_clean()

    assert excinfo.value.message_dict["username"] == ["A username cannot be made of dots only."]


@pytest.mark.parametrize("username", [".a", "a.", "..a..", ".@.", "a..b", "_."])
def test_a_username_with_dots_and_something_else_is_valid(username):
    User(username=username).full_clean()
