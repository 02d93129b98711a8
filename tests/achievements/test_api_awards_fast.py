"""The user awards list is built from plain rows (achievements.selectors.award_page_for_username),
not from AwardSerializer over model instances. These tests hold it to the serializer: the same
JSON bytes for every language, fallback, page and time zone, the count exact at once after a
write, and one statement per page (holder, count and rows)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from achievements.models import Achievement
from achievements.selectors import award_list_for_user
from achievements.serializers import AwardSerializer
from core.pagination import Pagination
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import CASE_USER_LOOKUPS, fallback_catalog
from users.api import USER_NOT_FOUND


def awards_of(username: str) -> str:
    return f"/api/v1/users/{username}/achievements/"


def serializer_body(user, path: str, query: dict) -> bytes:
    """The page as the view built it before: DRF's paginator over award_list_for_user and
    AwardSerializer over the model instances, rendered by DRF. The oracle for the fast path."""
    request = Request(APIRequestFactory().get(path, query))
    paginator = Pagination()
    with translation.override(user.language):
        page = paginator.paginate_queryset(award_list_for_user(user), request)
        data = paginator.get_paginated_response(AwardSerializer(page, many=True).data).data
    return JSONRenderer().render(data)


@pytest.fixture
def catalog(db):
    """The fallback catalog (tests.helpers) and seven plain entries."""
    return [
        *fallback_catalog(),
        *[AchievementFactory(code=f"bulk-{i:02d}", points=i + 1) for i in range(7)],
    ]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Tokyo"])
def test_every_page_is_the_serializers_json_byte_for_byte(
    anonymous, grant, catalog, language, time_zone
):
    user = UserFactory(username="Reader_1", language=language)
    now = timezone.now()
    for i, entry in enumerate(catalog):
        # Two awards share a moment: the id breaks the tie, as in award_list_for_user.
        at = now - timedelta(hours=i // 2 * 5, microseconds=0 if i % 3 else 123456)
        grant(user, entry, at=at)

    with override_settings(TIME_ZONE=time_zone):
        pages = [(50, 0), (5, 0), (5, 5), (5, 10), (3, 4), (5, 12), (5, 40), (5, 10**22)]
        for limit, offset in pages:
            path = awards_of("reader_1")
            query = {"limit": limit, "offset": offset} if offset else {"limit": limit}
            response = anonymous.get(path, query)
            assert response.status_code == 200
            assert response["Content-Language"] == language
            assert response.content == serializer_body(user, path, query), query


def test_the_default_page_equals_the_serializers(anonymous, grant, catalog):
    user = UserFactory(username="plain", language="ru")
    for entry in catalog:
        grant(user, entry)
    response = anonymous.get(awards_of("plain"))
    assert response.content == serializer_body(user, awards_of("plain"), {})


def test_a_user_without_awards_reads_an_empty_page(anonymous, db):
    user = UserFactory(username="nobody")
    for query in [{}, {"offset": 10}]:
        response = anonymous.get(awards_of("nobody"), query)
        assert response.status_code == 200
        assert response.json()["count"] == 0
        assert response.content == serializer_body(user, awards_of("nobody"), query)


def test_a_read_after_a_grant_or_revoke_sees_it_at_once(anonymous, api, catalog, db):
    UserFactory(username="live")
    for n, entry in enumerate(catalog[:4], start=1):
        assert api.post(awards_of("live"), {"achievement": entry.code}).status_code == 201
        body = anonymous.get(awards_of("live"), {"limit": 2}).json()
        assert body["count"] == n
        assert body["results"][0]["achievement"] == entry.code
    assert api.delete(f"{awards_of('live')}{catalog[3].code}/").status_code == 204
    body = anonymous.get(awards_of("live")).json()
    assert body["count"] == 3
    assert catalog[3].code not in {a["achievement"] for a in body["results"]}


def test_a_texts_change_shows_on_the_next_read(anonymous, grant, catalog):
    user = UserFactory(username="texts", language="ru")
    grant(user, catalog[0])
    Achievement.objects.filter(code="full").update(name_ru="", name_en="Renamed")
    assert anonymous.get(awards_of("texts")).json()["results"][0]["name"] == "Renamed"


def test_a_page_costs_one_statement(anonymous, grant, catalog, count_queries):
    user = UserFactory(username="counted")
    UserFactory(username="empty")
    for entry in catalog:
        grant(user, entry)
    assert count_queries(lambda: anonymous.get(awards_of("counted"), {"limit": 5})) == 1
    # A holder without awards is one row of NULLs, still one statement.
    assert count_queries(lambda: anonymous.get(awards_of("empty"))) == 1
    # Past the end there are no rows to carry the count: one more statement counts them.
    assert count_queries(lambda: anonymous.get(awards_of("counted"), {"offset": 500})) == 2
    assert count_queries(lambda: anonymous.get(awards_of("ghost"), {"offset": 500})) == 2


@pytest.mark.parametrize("asked, found", CASE_USER_LOOKUPS)
def test_the_holder_is_found_as_user_get_finds_it(anonymous, asked, found, db):
    """The list finds the holder in its one raw statement; it follows user_get's rule."""
    UserFactory(username="Case_User", language="ru")
    response = anonymous.get(awards_of(asked))
    if found:
        assert response.status_code == 200
        assert response["Content-Language"] == "ru"
    else:
        assert response.status_code == 404
        assert response.json() == {"detail": USER_NOT_FOUND}


def test_the_browsable_page_of_a_users_awards_shows_them(anonymous, grant, catalog):
    user = UserFactory(username="browser", language="en")
    for entry in catalog:
        grant(user, entry)
    response = anonymous.get(awards_of("browser"), {"limit": 5}, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Dragon" not in page and catalog[-1].code in page
    assert "offset=5" in page  # the paginator's controls


@pytest.mark.parametrize("datetime_format", ["%Y-%m-%d %H:%M", None])
def test_a_configured_datetime_format_is_followed(anonymous, grant, catalog, datetime_format):
    user = UserFactory(username="formats", language="en")
    for entry in catalog[:3]:
        grant(user, entry)
    rest_framework = {**settings.REST_FRAMEWORK, "DATETIME_FORMAT": datetime_format}
    with override_settings(REST_FRAMEWORK=rest_framework):
        response = anonymous.get(awards_of("formats"))
        assert response.content == serializer_body(user, awards_of("formats"), {})
