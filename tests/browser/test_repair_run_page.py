"""An operator repairs a run that stopped on a bad answer, from its page: reads why it
stopped, corrects the answer (a wrong value comes back with its error, nothing typed lost),
retries the run, and sees it go on."""

import pytest
from playwright.sync_api import expect

from runs import engine
from runs.models import Run, RunEvent
from tests.runs.engine_helpers import complete
from tests.runs.hiring import hiring
from tests.support.browser import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_corrects_an_answer_and_retries_the_stopped_run(
    page, live_server, operator, assignee
):
    hiring(assignee)
    run = engine.launch("hiring", title="Ana's hire")
    complete(run, "new_hire_form", assignee, name="Ana Lima", salary=None)

    login(page, live_server, operator.username)
    page.goto(f"/runs/{run.pk}/")
    stopped = page.get_by_role("region", name="The run stopped")
    expect(stopped).to_contain_text(
        'The route condition of stage "Hire" (new_hire_form.salary > 100000) could not be '
        "evaluated: it compares or combines an empty answer with a number. Correct the answers "
        'of "New hire form" below, then retry.'
    )
    corrections = page.get_by_role("region", name="Correct answers")
    corrections.get_by_text("Correct the answers of New hire form…").click()
    expect(corrections.get_by_label("Name")).to_have_value("Ana Lima")
    corrections.get_by_label("Name").fill("")
    corrections.get_by_label("Salary").fill("85000")
    corrections.get_by_label("Why correct them?").fill("HR left the salary out")
    corrections.get_by_role("button", name="Save corrected answers").click()

    corrections = page.get_by_role("region", name="Correct answers")
    expect(corrections).to_contain_text("This field is required.")
    expect(corrections.get_by_label("Salary")).to_have_value("85000")
    expect(corrections.get_by_label("Why correct them?")).to_have_value("HR left the salary out")
    corrections.get_by_label("Name").fill("Ana Lima")
    page.screenshot(path="/tmp/repair.png", full_page=True)
    corrections.get_by_role("button", name="Save corrected answers").click()
    expect(page.get_by_role("status")).to_contain_text(
        'The answers of "New hire form" were corrected. Retry to go on.'
    )

    page.get_by_role("region", name="The run stopped").get_by_text("Retry…").click()
    page.get_by_label("Why retry it?").fill("The salary is in now")
    page.get_by_role("button", name="Retry run").click()
    expect(page.get_by_role("status")).to_contain_text("The run is being retried.")
    expect(page.locator("#run-live .facts dd").first).to_contain_text("Running")
    expect(page.get_by_role("region", name="The run stopped")).to_have_count(0)
    expect(page.get_by_role("region", name="Correct answers")).to_have_count(0)
    page.screenshot(path="/tmp/repair-retried.png", full_page=True)

    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    corrected = RunEvent.objects.get(run=run, kind="step.answers_corrected")
    assert (corrected.data["before"], corrected.data["after"]) == (
        {"salary": None},
        {"salary": 85000.0},
    )
