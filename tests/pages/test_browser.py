# Russian interface texts are the point of these checks, not look-alike Latin letters.
# ruff: noqa: RUF001
"""The pages in a real headless Chromium (Debian's package, driven by Playwright) against a live
server holding the demo data: a visitor finds a user, reads their achievements, switches the
interface language and browses the catalog. JavaScript is off unless a test needs it to measure
the page: nothing on the site depends on it. Screenshots go to test-artifacts/screenshots/.

Without Chromium or Playwright these tests skip locally; in CI (CI set) that is a failure.
"""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from achievements.models import Achievement
from achievements.selectors import award_list_for_user
from users.selectors import user_get

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(transactional_db, live_server) -> str:
    """The live server's address, with the demo data seeded."""
    call_command("seed_demo_data", stdout=StringIO(), stderr=StringIO())
    return live_server.url


@pytest.fixture
def visit(browser, site):
    """`visit(path, **context options)`: a new page at `path`. At the end, checks that the
    pages asked no other host for anything."""
    contexts, foreign = [], []

    def visit(path: str, **options):
        options = {"viewport": DESKTOP, "java_script_enabled": False, **options}
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "request",
            lambda request: None
            if request.url.startswith((site, "data:"))
            else foreign.append(request.url),
        )
        page.goto(site + path)
        return page

    yield visit
    for context in contexts:
        context.close()
    assert foreign == [], "pages loaded something from another host"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_a_visitor_finds_a_user_and_reads_their_achievements_in_their_language(visit):
    from playwright.sync_api import expect

    page = visit("/", locale="en-US")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaders and records")
    screenshot(page, "home-en.png")

    page.get_by_label("Find a player by name").fill("MASHA")
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/users/masha_k/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("masha_k")
    # The interface stays English; masha_k reads Russian, so her achievements are in Russian.
    expect(page.get_by_text("Longest streak")).to_be_visible()
    awards = list(award_list_for_user(user_get("masha_k"))[:50])
    expected = [award.achievement.name_ru or award.achievement.name_en for award in awards]
    assert any(award.achievement.name_ru for award in awards), "the demo gives her Russian names"
    expect(page.locator(".award__name")).to_have_text(expected)
    expect(page.locator(".award__main").first).to_have_attribute("lang", "ru")
    screenshot(page, "user-masha_k-en.png")


def test_a_visitor_switches_to_russian_and_browses_the_catalog(visit):
    from playwright.sync_api import expect

    page = visit("/", locale="en-US")
    page.get_by_role("button", name="Русский").click()

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Лидеры и рекорды")
    expect(page.get_by_role("button", name="Русский")).to_have_attribute("aria-pressed", "true")
    screenshot(page, "home-ru.png")

    page.get_by_role("navigation", name="Главное меню").get_by_role(
        "link", name="Все достижения"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Все достижения")
    catalog = list(Achievement.objects.order_by("-points", "code"))
    expect(page.locator("table.catalog tbody tr")).to_have_count(len(catalog))
    expect(page.get_by_role("link", name="Первый блин")).to_be_visible()
    screenshot(page, "catalog-ru.png")

    page.get_by_role("link", name="Самые ценные").click()
    most_valuable = catalog[0]
    first = page.locator("table.catalog tbody tr").first.get_by_role("link")
    expect(first).to_have_text(most_valuable.name_ru or most_valuable.name_en)

    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        most_valuable.name_ru or most_valuable.name_en
    )
    expect(page.get_by_role("heading", name="У кого оно есть")).to_be_visible()
    screenshot(page, "achievement-ru.png")

    # Back to English: the same page, now with English texts.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(most_valuable.name_en)
    expect(page.get_by_role("heading", name="Who holds it")).to_be_visible()


def test_an_unknown_user_gets_a_page_that_helps(visit):
    from playwright.sync_api import expect

    page = visit("/users/no.such.person/", locale="en-US")

    expect(page.get_by_role("heading", level=1)).to_have_text("No such player")
    expect(page.get_by_label("Find a player by name")).to_have_value("no.such.person")
    screenshot(page, "user-not-found-en.png")


@pytest.mark.parametrize("path", ["/", "/users/masha_k/", "/achievements/", "/leaderboard/"])
def test_pages_fit_a_phone_screen_without_sideways_scrolling(visit, path):
    from playwright.sync_api import expect

    # JavaScript on only to measure the page.
    page = visit(path, viewport=PHONE, java_script_enabled=True, locale="ru-RU")

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    name = path.strip("/").replace("/", "-") or "home"
    screenshot(page, f"phone-{name}-ru.png")


# Every page with a table, and the user page; each table's ranking figure is marked .col-key.
TABLE_PAGES = [
    "/",
    "/leaderboard/",
    "/leaderboard/?by=achievements",
    "/streaks/",
    "/achievements/",
    "/achievements/?order=points",
    "/search/?q=a",
]

MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const keys = [...document.querySelectorAll("table .col-key")];
  const extras = [...document.querySelectorAll("table .col-extra")];
  return {
    width,
    pageScroll: document.documentElement.scrollWidth,
    tablesScroll: [...document.querySelectorAll(".table-wrap")].map(
      (w) => w.scrollWidth - w.clientWidth),
    keys: keys.length,
    keysOutside: keys.filter((c) => {
      const box = c.getBoundingClientRect();
      return box.width === 0 || box.left < 0 || box.right > width;
    }).length,
    extrasShown: extras.filter((c) => c.getBoundingClientRect().width > 0).length,
    extras: extras.length,
  };
}"""


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_every_table_keeps_its_ranking_figure_on_screen_without_sideways_scrolling(
    visit, site, viewport, name
):
    code = Achievement.objects.order_by("code").first().code
    for path in [*TABLE_PAGES, f"/achievements/{code}/"]:
        page = visit(path, viewport=viewport, java_script_enabled=True, locale="ru-RU")
        seen = page.evaluate(MEASURE)

        assert seen["pageScroll"] <= viewport["width"], path
        assert all(extra <= 0 for extra in seen["tablesScroll"]), (path, seen)
        assert seen["keys"] > 0, f"{path}: no ranking figure marked"
        assert seen["keysOutside"] == 0, (path, seen)
        if name == "phone":
            assert seen["extrasShown"] == 0, (path, seen)
        else:
            assert seen["extrasShown"] == seen["extras"], (path, seen)
        page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_the_user_page_shows_the_points_within_the_screen(visit, viewport):
    page = visit("/users/masha_k/", viewport=viewport, java_script_enabled=True)

    points = page.locator(".figures dd").first
    box = points.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
