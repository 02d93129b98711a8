"""Every HTML page carries a Content-Security-Policy, and the pages, the admin and the offline
docs all work under it: in a real headless Chromium (Debian's, through Playwright) with
JavaScript on, no page reports a violation, and the doc UIs render.

Without Chromium or Playwright the browser tests skip locally; in CI that is a failure.
"""

import pytest
from csp.exceptions import CSPNonceError
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings

from core.middleware import ContentSecurityPolicyMiddleware
from tests.factories import AchievementFactory, OperatorFactory, UserFactory

# Recorded before any page script runs; an init script is not itself subject to the policy.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/docs/", "/api/redoc/"])
def test_html_pages_carry_a_content_security_policy(path):
    response = Client().get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/v1/achievements/", "/api/v1/no-such-route/"])
def test_every_response_carries_django_csps_own_policy(path):
    """The middleware builds the header once; it is the one django-csp builds each time."""
    for _ in range(2):
        assert Client().get(path)["Content-Security-Policy"] == build_policy()


def middleware_response(response=None, request=None):
    request = request or RequestFactory().get("/api/v1/achievements/")
    middleware = ContentSecurityPolicyMiddleware(lambda request: response or HttpResponse())
    return middleware(request)


def test_a_settings_change_changes_the_policy():
    before = middleware_response()["Content-Security-Policy"]
    policy = {"DIRECTIVES": {"default-src": ["'none'"]}}
    with override_settings(
        CONTENT_SECURITY_POLICY=policy, CONTENT_SECURITY_POLICY_REPORT_ONLY=policy
    ):
        response = middleware_response()
        assert response["Content-Security-Policy"] == "default-src 'none'"
        assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"
        excluded = {**policy, "EXCLUDE_URL_PREFIXES": ["/api/"]}
        with override_settings(CONTENT_SECURITY_POLICY=excluded):
            assert "Content-Security-Policy" not in middleware_response()
    after = middleware_response()
    assert after["Content-Security-Policy"] == before
    assert "Content-Security-Policy-Report-Only" not in after


def test_a_policy_of_the_responses_own_or_a_nonce_goes_through_django_csp():
    updated = HttpResponse()
    updated._csp_update = {"img-src": ["https://images.example"]}
    assert "https://images.example" in middleware_response(updated)["Content-Security-Policy"]
    exempt = HttpResponse()
    exempt._csp_exempt = True
    assert "Content-Security-Policy" not in middleware_response(exempt)
    request = RequestFactory().get("/")
    middleware = ContentSecurityPolicyMiddleware(
        lambda request: str(request.csp_nonce) and HttpResponse()
    )
    policy = middleware(request)["Content-Security-Policy"]
    assert policy == build_policy(nonce=request._csp_nonce)


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    request = RequestFactory().get("/")
    middleware_response(request=request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


@pytest.mark.django_db
def test_swagger_ui_has_no_inline_script():
    body = Client().get("/api/docs/").content.decode()
    assert "<script>" not in body.replace(" ", "")
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content


@pytest.fixture
def page(browser, transactional_db, live_server):
    """A page with JavaScript on that records every CSP violation, console report included."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_reports = []
    page.on(
        "console",
        lambda message: page.console_reports.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    page.base = live_server.url
    yield page
    context.close()


def violations(page) -> list[str]:
    """Everything the policy blocked: the site's own resources and inline code, and any request
    to another host (the docs must work offline, so none may be made)."""
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__violations") + page.console_reports


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/achievements/", "/leaderboard/"])
def test_the_public_pages_report_no_csp_violation(page, path):
    user = UserFactory(username="ada")
    AchievementFactory()
    page.goto(page.base + path)
    assert violations(page) == []
    page.goto(page.base + f"/users/{user.username}/")
    assert violations(page) == []


@pytest.mark.browser
def test_the_admin_works_logged_in_with_no_csp_violation(page):
    from playwright.sync_api import expect

    OperatorFactory(username="op", password="op-password", is_superuser=True)
    achievement = AchievementFactory()
    user = UserFactory()
    page.goto(page.base + "/admin/login/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("op")
    assert violations(page) == []
    for path in (
        f"/admin/achievements/achievement/{achievement.pk}/change/",
        "/admin/achievements/achievement/add/",
        f"/admin/users/user/{user.pk}/change/",
        "/admin/achievements/award/",
    ):
        page.goto(page.base + path)
        assert violations(page) == [], path
    # The admin's own scripts run: the changelist's "select all" box checks every row.
    page.goto(page.base + "/admin/achievements/achievement/")
    page.check("#action-toggle")
    expect(page.locator("input.action-select").first).to_be_checked()
    assert violations(page) == []


@pytest.mark.browser
def test_swagger_ui_renders_under_the_policy(page):
    from playwright.sync_api import expect

    page.goto(page.base + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Achievements API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations(page) == []


@pytest.mark.browser
def test_redoc_renders_under_the_policy(page):
    from playwright.sync_api import expect

    page.goto(page.base + "/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Achievements API")
    expect(page.locator("[data-section-id]").first).to_be_attached()
    assert violations(page) == []
