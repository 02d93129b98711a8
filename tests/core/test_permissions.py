"""Who may do what: public reads, 401 without credentials, 403 without the permission."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from achievements.models import Achievement, Award
from core.permissions import ModelPermissionsOrReadOnly
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from tests.helpers import token_client
from users.models import User

READS = [
    "/api/v1/users/",
    "/api/v1/users/ann/",
    "/api/v1/achievements/",
    "/api/v1/achievements/dragon/",
    "/api/v1/users/ann/achievements/",
]

NEW_ENTRY = {"code": "new-one", "points": 5, "name_en": "New", "description_en": "New."}

# (method, path, body): one of every write the API offers, in an order that succeeds in turn.
WRITES = [
    ("post", "/api/v1/users/", {"username": "newbie"}),
    ("patch", "/api/v1/users/ann/", {"language": "ru"}),
    ("post", "/api/v1/achievements/", NEW_ENTRY),
    ("patch", "/api/v1/achievements/dragon/", {"points": 5}),
    ("post", "/api/v1/users/ann/achievements/", {"achievement": "dragon"}),
    ("delete", "/api/v1/users/ann/achievements/held/", None),
    ("delete", "/api/v1/achievements/held/", None),
    ("delete", "/api/v1/users/ann/", None),
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


@pytest.fixture
def scene(grant):
    """A user, an achievement nobody holds and one the user holds."""
    ann = UserFactory(username="ann", language="en")
    AchievementFactory(code="dragon", points=40)
    grant(ann, AchievementFactory(code="held", points=10))


def state() -> tuple:
    """Everything a write could change."""
    return (
        list(User.objects.values_list("username", "language", "points", "achievements_count")),
        list(Achievement.objects.values_list("code", "points", "name_en")),
        list(Award.objects.values_list("user__username", "achievement__code", "awarded_at")),
    )


def send(client, method: str, path: str, body):
    return (
        getattr(client, method)(path, body) if body is not None else getattr(client, method)(path)
    )


# --- reads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
def test_every_read_is_public(anonymous, scene, path):
    assert anonymous.get(path).status_code == 200
    assert anonymous.head(path).status_code == 200
    assert anonymous.options(path).status_code == 200


@pytest.mark.parametrize("path", READS)
def test_an_account_without_permissions_may_still_read(unprivileged, scene, path):
    assert unprivileged.get(path).status_code == 200


# --- 401 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_a_write_without_credentials_is_401_and_changes_nothing(
    anonymous, scene, method, path, body
):
    before = state()

    response = send(anonymous, method, path, body)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response["WWW-Authenticate"] == "Token"
    assert state() == before


@pytest.mark.parametrize(
    "header",
    [
        "Token 0000000000000000000000000000000000000000",
        "Token",
        "Token two words",
        "Token " + "f" * 1000,
        "Bearer 0000000000000000000000000000000000000000",
    ],
    ids=["unknown-key", "no-key", "two-keys", "long-key", "other-scheme"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), WRITES[:1] + WRITES[4:5], ids=["user", "award"]
)
def test_a_write_with_a_bad_token_is_401_and_changes_nothing(scene, header, method, path, body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    before = state()

    response = send(client, method, path, body)

    assert response.status_code == 401
    assert state() == before


def test_the_token_of_a_deactivated_account_is_401(api, integration_account, scene):
    integration_account.is_active = False
    integration_account.save()

    response = api.post("/api/v1/users/", {"username": "newbie"})

    assert response.status_code == 401
    assert not User.objects.filter(username="newbie").exists()


def test_a_write_for_an_unknown_user_without_credentials_is_401_not_404(anonymous, scene):
    assert (
        anonymous.post("/api/v1/users/nobody/achievements/", {"achievement": "dragon"}).status_code
        == 401
    )
    assert anonymous.delete("/api/v1/users/nobody/achievements/held/").status_code == 401
    assert anonymous.patch("/api/v1/users/nobody/", {"language": "ru"}).status_code == 401


# --- 403 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_a_write_by_an_account_without_the_permission_is_403_and_changes_nothing(
    unprivileged, scene, method, path, body
):
    before = state()

    response = send(unprivileged, method, path, body)

    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert state() == before


def test_each_write_needs_its_own_permission(scene):
    account = get_user_model().objects.create_user(username="awarder")
    account.user_permissions.add(
        Permission.objects.get(content_type__app_label="achievements", codename="add_award")
    )
    client = token_client(Token.objects.create(user=account).key)

    awarded = client.post("/api/v1/users/ann/achievements/", {"achievement": "dragon"})
    revoked = client.delete("/api/v1/users/ann/achievements/held/")
    registered = client.post("/api/v1/users/", {"username": "newbie"})
    removed = client.delete("/api/v1/achievements/dragon/")

    assert awarded.status_code == 201
    assert (revoked.status_code, registered.status_code, removed.status_code) == (403, 403, 403)
    assert Award.objects.filter(achievement__code="held").exists()


def test_a_staff_flag_alone_grants_no_write(scene):
    staff = OperatorFactory(is_staff=True, is_superuser=False)
    client = token_client(Token.objects.create(user=staff).key)

    assert client.post("/api/v1/users/", {"username": "newbie"}).status_code == 403


# --- the integration account ----------------------------------------------------------------


def test_an_integration_account_can_make_every_write(api, scene, integration_account):
    answers = [send(api, method, path, body).status_code for method, path, body in WRITES]

    assert answers == [201, 200, 201, 200, 201, 204, 204, 204]
    assert User.objects.filter(username="newbie").exists()
    assert not User.objects.filter(username="ann").exists()
    assert Achievement.objects.filter(code="new-one").exists()
    assert Achievement.objects.get(code="dragon").points == 5
    assert not Achievement.objects.filter(code="held").exists()


def test_an_integration_account_is_recorded_on_its_awards(api, scene, integration_account):
    api.post("/api/v1/users/ann/achievements/", {"achievement": "dragon"})

    assert Award.objects.get(achievement__code="dragon").awarded_by == integration_account


# --- operator session with CSRF -------------------------------------------------------------


@pytest.fixture
def operator_session(db):
    """A browser-like client logged in to the admin as a superuser, with CSRF enforced."""
    superuser = get_user_model().objects.create_superuser(
        username="root", email="", password="operator-password"
    )
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


def csrf_token_of(client) -> str:
    """The CSRF token a browser would have after opening the admin."""
    assert client.get("/admin/").status_code == 200
    return client.cookies["csrftoken"].value


def test_an_operator_session_without_a_csrf_token_cannot_write(operator_session, scene):
    before = state()

    response = operator_session.post("/api/v1/users/", {"username": "newbie"})

    assert response.status_code == 403
    assert "csrf" in response.json()["detail"].lower()
    assert state() == before


def test_an_operator_session_with_a_csrf_token_can_write(operator_session, scene):
    token = csrf_token_of(operator_session)

    created = operator_session.post(
        "/api/v1/users/", {"username": "newbie"}, HTTP_X_CSRFTOKEN=token
    )
    awarded = operator_session.post(
        "/api/v1/users/newbie/achievements/", {"achievement": "dragon"}, HTTP_X_CSRFTOKEN=token
    )

    assert created.status_code == 201
    assert awarded.status_code == 201
    assert Award.objects.get(user__username="newbie").awarded_by.username == "root"


def test_an_operator_session_with_a_wrong_csrf_token_cannot_write(operator_session, scene):
    csrf_token_of(operator_session)

    response = operator_session.post(
        "/api/v1/users/", {"username": "newbie"}, HTTP_X_CSRFTOKEN="x" * 32
    )

    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


def test_an_operator_session_reads_without_a_csrf_token(operator_session, scene):
    assert operator_session.get("/api/v1/users/").status_code == 200


def test_a_staff_session_without_permissions_is_403(scene):
    staff = OperatorFactory(is_staff=True, is_superuser=False)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    token = csrf_token_of(client)

    response = client.post("/api/v1/users/", {"username": "newbie"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize("method", ["get", "head", "options", "post"])
def test_a_read_is_allowed_before_the_views_queryset_is_built(method):
    """Reads need no permission, so the check allows them without the view's queryset; a write
    still finds its model there."""

    class View:
        built = 0

        def get_queryset(self):
            View.built += 1
            return Award.objects.all()

    request = Request(getattr(APIRequestFactory(), method)("/api/v1/users/ann/achievements/"))
    request.user = AnonymousUser()
    allowed = ModelPermissionsOrReadOnly().has_permission(request, View())
    assert allowed is (method != "post")
    assert View.built == (method == "post")
