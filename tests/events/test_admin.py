"""The operators' read-only views of events and measures."""

import pytest
from django.contrib.messages import get_messages
from django.utils import translation

from events import services
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


def test_a_zone_change_racing_a_rule_change_is_refused_on_the_page_and_changes_nothing(
    operator_client, history, monkeypatch
):
    ann = User.objects.get(username="ann")
    # The race: a rule change of ann's event types holds their lock when her row is held.
    monkeypatch.setattr(services, "event_types_try_lock_shared", lambda types: False)
    page = f"/admin/users/user/{ann.pk}/change/"
    form = {
        "language": "ru",
        "time_zone": "Asia/Kathmandu",
        **{
            f"{prefix}-{field}": value
            for prefix in ("awards", "awards-2", "progress")
            for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
        },
    }

    response = operator_client.post(page, form)

    assert response.status_code == 302
    assert response["Location"] == page
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["A rule of this user's events is being changed; try the time zone again."]
    ann.refresh_from_db()
    assert (ann.language, ann.time_zone) == ("en", "UTC")
