"""The pages used every day work under the Content-Security-Policy: Chromium reports no
violation (no inline script or style, nothing from elsewhere) on the login page, the inbox, a
work item (an HTMX submit), the run list with its charts, the run page, the progress page and
the designer in the admin."""

import re

import pytest
from playwright.sync_api import expect

from orchestrator.models import OrchestrationVersion
from orchestrator.specs import build
from runs import engine
from tests.runs.flows import review_flow
from tests.support.browser import login

pytestmark = pytest.mark.django_db(transaction=True)

# Every violation Chromium sees, as the page's own listener records it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


def test_the_everyday_pages_work_with_no_csp_violation(page, live_server, make_user):
    admin = make_user("root", first_name="Root", is_staff=True, is_superuser=True)
    build(review_flow(reviewer=admin))
    run = engine.launch("review", started_by=admin, title="Laptop for Maya")
    engine.launch("review", started_by=admin, title="Desk for Maya")
    item = run.work_items.get()
    version = OrchestrationVersion.objects.get(orchestration__key="review")

    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    violations: list[str] = []

    def visited(path: str) -> None:
        violations.extend(f"{path}: {text}" for text in page.evaluate("window.cspViolations"))

    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    visited("/accounts/login/")
    login(page, live_server, admin.username)

    page.goto("/inbox/")
    expect(page.get_by_role("link", name="Manager approval").first).to_be_visible()
    visited("/inbox/")

    page.goto(f"/inbox/{item.pk}/")
    page.get_by_label("Comment").fill("Fine by me")
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))  # htmx posted, then sent us back
    expect(page.get_by_role("status")).to_contain_text("is complete")
    visited(f"/inbox/{item.pk}/")

    page.goto("/runs/")
    expect(page.locator("canvas[data-chart]").first).to_be_visible()
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length > 0")
    visited("/runs/")

    for path in (f"/runs/{run.pk}/", f"/runs/{run.pk}/progress/", "/admin/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        visited(path)

    page.goto(f"/admin/orchestrator/orchestrationversion/{version.pk}/change/")
    expect(page.get_by_role("button", name="Validate")).to_be_visible()
    assert page.locator(".version-actions").evaluate("e => getComputedStyle(e).display") == "flex"
    visited("the version page")

    reported = [text for text in console if "Content Security Policy" in text]
    assert violations == [] and reported == [], "\n".join(violations + reported)
