"""`manage.py create_api_token NAME`: an integration account and its token, on stdout alone."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client

EXPECTED_PERMISSIONS = {
    f"{app}.{action}_{model}"
    for app, model in (
        ("users", "user"),
        ("achievements", "achievement"),
        ("achievements", "award"),
    )
    for action in ("add", "change", "delete")
}


def create_api_token(*args: str) -> tuple[str, str]:
    """Run the command; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_only_the_token_of_a_new_account(db):
    out, err = create_api_token("space-game")

    assert re.fullmatch(r"[0-9a-f]{40}\n", out)
    assert err == ""
    token = Token.objects.get(key=out.strip())
    assert token.user.username == "space-game"


def test_the_account_may_manage_users_achievements_and_awards(db):
    create_api_token("space-game")

    account = get_user_model().objects.get(username="space-game")
    assert account.get_all_permissions() >= EXPECTED_PERMISSIONS
    assert not account.is_superuser
    assert not account.has_usable_password()


def test_running_it_again_reuses_the_account_and_its_token(db):
    first, _ = create_api_token("space-game")
    second, _ = create_api_token("space-game")

    assert first == second
    assert get_user_model().objects.filter(username="space-game").count() == 1
    assert Token.objects.count() == 1


def test_different_names_get_different_accounts_and_tokens(db):
    first, _ = create_api_token("space-game")
    second, _ = create_api_token("quiz-app")

    assert first != second
    assert Token.objects.count() == 2


def test_running_it_on_an_existing_account_adds_the_permissions(db):
    get_user_model().objects.create_user(username="legacy", password="legacy-password-123")

    out, _ = create_api_token("legacy")

    account = get_user_model().objects.get(username="legacy")
    assert Token.objects.get(user=account).key == out.strip()
    assert account.get_all_permissions() >= EXPECTED_PERMISSIONS


@pytest.mark.parametrize("name", ["", "   ", "x" * 151], ids=["empty", "blank", "151-chars"])
def test_a_name_that_cannot_be_an_account_is_refused(db, name):
    with pytest.raises(CommandError):
        create_api_token(name)

    assert not Token.objects.exists()


def test_the_printed_token_can_make_every_kind_of_write(db):
    out, _ = create_api_token("space-game")
    client = token_client(out.strip())
    AchievementFactory(code="dragon")
    UserFactory(username="ann")

    answers = [
        client.post("/api/v1/users/", {"username": "newbie"}).status_code,
        client.patch("/api/v1/users/newbie/", {"language": "ru"}).status_code,
        client.post(
            "/api/v1/achievements/",
            {"code": "new", "points": 5, "name_en": "New", "description_en": "New."},
        ).status_code,
        client.patch("/api/v1/achievements/new/", {"points": 6}).status_code,
        client.post("/api/v1/users/ann/achievements/", {"achievement": "dragon"}).status_code,
        client.delete("/api/v1/users/ann/achievements/dragon/").status_code,
        client.delete("/api/v1/achievements/new/").status_code,
        client.delete("/api/v1/users/newbie/").status_code,
    ]

    assert answers == [201, 200, 201, 200, 201, 204, 204, 204]
