"""The API docs in a real headless Chromium (Debian's package, driven by Playwright) with
JavaScript on, as a reader opens them: Swagger UI at /api/docs/ and ReDoc at /api/redoc/ render
the schema they fetch from /api/schema/, every request stays on this host, and the browser
reports no console error. Parsing the HTML cannot show this: ReDoc's bundle itself asked
cdn.redoc.ly for its logo.

Without Chromium or Playwright these tests skip locally; in CI (CI set) that is a failure.
"""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class Log:
    """Every request a page makes, the answers, and what the browser reports as errors."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.answers: dict[str, int] = {}
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("response", lambda response: self.answers.update({response.url: response.status}))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url} {r.failure}"))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def foreign(self) -> list[str]:
        """Requests that would leave this machine."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in {"data", "blob", "about"}
            and urlsplit(url).hostname not in LOOPBACK_HOSTS
        ]

    def _console(self, message) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        # A document without a declared icon (the raw schema) makes Chromium ask for
        # /favicon.ico on its own; this host has none to give, and no page depends on it.
        if urlsplit(source).path == "/favicon.ico":
            return
        self.errors.append(f"console: {message.text} ({source})")

    def refused(self) -> dict[str, int]:
        """The requests that got an error status, to explain a console error."""
        return {url: status for url, status in self.answers.items() if status >= 400}

    def schema_fetched(self) -> bool:
        return any(
            urlsplit(url).path == "/api/schema/" and status == 200
            for url, status in self.answers.items()
        )


@pytest.fixture
def open_docs(browser, live_server):
    contexts = []

    def open_docs(path: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        log = Log(page)
        page.goto(live_server.url + path)
        return page, log

    yield open_docs
    for context in contexts:
        context.close()


def test_swagger_ui_renders_the_schema_without_leaving_this_host(open_docs):
    from playwright.sync_api import expect

    page, log = open_docs("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Achievements API", timeout=30_000
    )
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert log.schema_fetched()
    assert log.foreign() == []
    assert log.errors == [], log.refused()


def test_redoc_renders_the_schema_and_its_logo_without_leaving_this_host(open_docs):
    from playwright.sync_api import expect

    page, log = open_docs("/api/redoc/")

    # The bundle is large and parses the schema itself: give a busy machine time.
    expect(page.get_by_role("heading", name="Achievements API")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("API docs by Redocly")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert log.foreign() == []
    assert log.errors == [], log.refused()
    assert log.schema_fetched()
    logo = page.locator('img[alt="redocly logo"]')
    expect(logo).to_have_attribute("src", "/static/docs/redoc-logo-mini.svg")
    assert logo.evaluate("image => image.complete && image.naturalWidth > 0")


def test_the_schema_opens_in_the_browser_without_leaving_this_host(open_docs):
    page, log = open_docs("/api/schema/?format=json")

    assert '"openapi"' in page.content()
    assert log.foreign() == []
    assert log.errors == [], log.refused()
