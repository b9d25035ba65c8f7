"""Answers read the same on the run page and on a work item's page, and sit one per line:
a decimal as "85,000.00", yes/no as "Yes", a long text wrapped in its own column."""

import pytest
from playwright.sync_api import expect

from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from tests.runs.engine_helpers import complete
from tests.support.browser import login
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db(transaction=True)

LONG_TEXT = (
    "Relocating from Porto in March; needs a parking space near the office, a standing desk, "
    "and a monitor arm. Prefers to start on a Monday so that the welcome lunch can be booked."
)


@pytest.fixture
def run(assignee):
    fields = [
        FieldSpec("salary", "Salary", "decimal"),
        FieldSpec("relocate", "Relocation needed", "yes_no"),
        FieldSpec("notes", "Notes for the team", "long_text"),
    ]
    offer = StepSpec("offer", assignee=assignee, fields=fields)
    approval = StepSpec("approval", assignee=assignee)
    build(
        OrchestrationSpec(
            "offer",
            stages=[StageSpec("hr", steps=[offer]), StageSpec("review", steps=[approval])],
        )
    )
    run = engine.launch("offer", title="Ana's offer")
    complete(run, "offer", assignee, salary=85000.0, relocate=True, notes=LONG_TEXT)
    return run


def test_run_page_answers_are_formatted_and_on_one_line_each(page, live_server, operator, run):
    login(page, live_server, operator.username)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/runs/{run.pk}/")
    answers = page.locator("#run-live dl.answers").first
    answers.scroll_into_view_if_needed()
    page.screenshot(path="/tmp/lanes-run-page.png", full_page=True)
    answers.screenshot(path="/tmp/lanes-run-page-answers.png")
    expect(answers).to_contain_text("85,000.00")
    yes = answers.locator("dd", has_text="Yes")
    label = answers.locator("dt", has_text="Relocation needed")
    # One line: "Yes" is no taller than its label, and not one letter per line.
    assert yes.bounding_box()["height"] <= label.bounding_box()["height"] * 1.5
    # No tall blank gaps: the three answers take little more than three lines, plus the wrapped
    # long text.
    salary = answers.locator("dd", has_text="85,000.00")
    gap = yes.bounding_box()["y"] - (salary.bounding_box()["y"] + salary.bounding_box()["height"])
    assert gap < label.bounding_box()["height"]


def test_work_item_page_shows_the_same_answers(page, live_server, assignee, run):
    item = WorkItem.objects.get(run=run, status="open")
    login(page, live_server, assignee.username)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/inbox/{item.pk}/")
    earlier = page.get_by_role("region", name="Earlier answers")
    page.screenshot(path="/tmp/lanes-work-item.png", full_page=True)
    expect(earlier).to_contain_text("85,000.00")
    expect(earlier).to_contain_text("Yes")
