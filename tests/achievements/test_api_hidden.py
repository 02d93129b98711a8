"""Hidden achievements over the API: locked texts for requests without credentials."""

import pytest

from achievements.services.awards import award_grant
from achievements.services.progress import progress_increment
from tests.factories import AchievementFactory, UserFactory

LOCKED = {
    "en": ("Hidden achievement", "Keep going to discover it."),
    "ru": ("Скрытое достижение", "Продолжайте — и тайна откроется."),
}


@pytest.fixture
def secret(db):
    return AchievementFactory(
        code="secret",
        points=40,
        goal=3,
        hidden=True,
        name_en="The Night Owl",
        name_ru="Ночная сова",
        description_en="Study past midnight.",
        description_ru="Учитесь после полуночи.",
    )


def _assert_locked(entry: dict, language: str = "en") -> None:
    assert (entry["name"], entry["description"]) == LOCKED[language]
    assert entry["name_en"] is entry["name_ru"] is None
    assert entry["description_en"] is entry["description_ru"] is None
    assert entry["hidden"] is True


@pytest.mark.parametrize("language", ["en", "ru"])
def test_one_entry_is_locked_without_credentials_in_the_request_language(
    anonymous, secret, language
):
    entry = anonymous.get("/api/v1/achievements/secret/", {"lang": language}).json()

    _assert_locked(entry, language)
    assert (entry["code"], entry["points"], entry["goal"]) == ("secret", 40, 3)


def test_the_catalog_and_rarity_lists_lock_it_and_keep_its_rarity(anonymous, secret):
    AchievementFactory(code="open", name_en="Open book")
    holder = UserFactory()
    award_grant(user=holder, achievement=secret)
    UserFactory()

    catalog = {e["code"]: e for e in anonymous.get("/api/v1/achievements/").json()["results"]}
    rarity = {e["code"]: e for e in anonymous.get("/api/v1/stats/achievements/").json()["results"]}

    _assert_locked(catalog["secret"])
    _assert_locked(rarity["secret"])
    assert (rarity["secret"]["holders"], rarity["secret"]["holders_percent"]) == (1, 50.0)
    assert catalog["open"]["name"] == "Open book"


def test_requests_with_credentials_see_everything(api, unprivileged, secret):
    for client in (api, unprivileged):
        entry = client.get("/api/v1/achievements/secret/").json()
        assert (entry["name"], entry["name_ru"]) == ("The Night Owl", "Ночная сова")
        assert entry["hidden"] is True


def test_progress_lists_lock_what_the_user_does_not_hold(anonymous, secret):
    learner = UserFactory(username="learner", language="ru")
    progress_increment(user=learner, achievement=secret, increment=1)

    entry = anonymous.get("/api/v1/users/learner/progress/").json()["results"][0]

    # In the user's language, like the rest of the list.
    assert (entry["name"], entry["description"]) == LOCKED["ru"]
    assert (entry["steps"], entry["goal"]) == (1, 3)


def test_what_the_user_holds_shows_its_real_texts_in_their_lists(anonymous, secret):
    holder = UserFactory(username="holder", language="ru")
    award_grant(user=holder, achievement=secret)

    progress = anonymous.get("/api/v1/users/holder/progress/").json()["results"][0]
    award = anonymous.get("/api/v1/users/holder/achievements/").json()["results"][0]

    assert progress["name"] == award["name"] == "Ночная сова"


def test_the_answer_to_a_write_shows_the_real_texts(api):
    body = {"points": 5, "name_en": "Quiet", "description_en": "Shh.", "hidden": True}

    created = api.post("/api/v1/achievements/", body).json()

    assert (created["name"], created["hidden"]) == ("Quiet", True)


def test_masking_adds_no_query_per_row(anonymous, django_assert_max_num_queries):
    for i in range(40):
        AchievementFactory(hidden=i % 2 == 0)

    with django_assert_max_num_queries(2):  # the count and the page
        response = anonymous.get("/api/v1/achievements/", {"limit": 100})

    assert sum(e["name"] == "Hidden achievement" for e in response.json()["results"]) == 20
