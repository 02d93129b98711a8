"""The operators' read-only views of events and measures."""

import pytest
from django.utils import translation

from events.services import events_record
from tests.factories import UserFactory
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, django_user_model):
    operator = django_user_model.objects.create_superuser("root", "", "pw")
    client.force_login(operator)
    return client


@pytest.fixture
def history(db):
    UserFactory(username="ann")
    UserFactory(username="ben")
    events_record(
        events=[
            {"id": "ann-1", "user": "ann", "type": "quiz.passed", "value": 3},
            {"id": "ben-1", "user": "ben", "type": "login"},
            {"id": "ben-2", "user": "ben", "type": "quiz.passed"},
        ]
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ann", ["ann-1"]),
        ("login", ["ben-1"]),
        ("ben-2", ["ben-2"]),
        ("ben-", []),  # ids are found whole
    ],
)
def test_recent_events_are_found_by_user_type_and_id(operator_client, history, query, found):
    response = operator_client.get("/admin/events/event/", {"q": query})

    assert response.status_code == 200
    listed = [event.event_id for event in response.context["cl"].result_list]
    assert listed == found


def test_events_and_measures_cannot_be_added_or_changed(operator_client, history):
    assert operator_client.get("/admin/events/event/add/").status_code == 403
    assert operator_client.get("/admin/events/measure/add/").status_code == 403
    assert operator_client.get("/admin/events/measure/").status_code == 200


def test_the_user_page_shows_the_users_measures(operator_client, history):
    ben = User.objects.get(username="ben")
    response = operator_client.get(f"/admin/users/user/{ben.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "<td>login</td><td>1</td>" in content
    assert "<td>quiz.passed</td><td>1</td>" in content


def test_the_measures_table_reads_in_russian(operator_client, history):
    ben = User.objects.get(username="ben")
    with translation.override("ru"):
        response = operator_client.get(
            f"/admin/users/user/{ben.pk}/change/", HTTP_ACCEPT_LANGUAGE="ru"
        )

    assert "показатели событий" in response.content.decode().lower()
