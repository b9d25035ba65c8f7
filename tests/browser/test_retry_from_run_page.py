"""An operator repairs a failed run from its page: sees the error, fixes the cause, retries
the step with a reason, and watches the run complete (the page polls; a real worker runs the
step)."""

import pytest
from playwright.sync_api import expect

from orchestrator.specs import build
from runs import engine
from runs.models import Run, RunEvent
from tests.runs.flows import background_flow, review_flow
from tests.support.browser import login
from tests.support.polling import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_retries_a_failed_step_and_sees_the_run_complete(
    page, live_server, celery_worker_process, operator, tmp_path
):
    flag = tmp_path / "ledger-down"
    flag.touch()
    build(background_flow(flag=flag, max_retries=0))
    run = engine.launch("ledger", title="Invoice 17")
    wait_for(
        lambda: Run.objects.filter(pk=run.pk, status="failed").exists(), message="the run to fail"
    )

    login(page, live_server, operator.username)
    page.goto(f"/runs/{run.pk}/")
    failed = page.get_by_role("region", name="Failed steps")
    expect(failed).to_contain_text("The ledger service is down.")
    expect(failed).to_contain_text("Attempts made: 1")
    page.screenshot(path="/tmp/run-page-failed.png", full_page=True)

    flag.unlink()  # the cause is fixed
    failed.get_by_text("Retry…").click()
    page.get_by_label("Why retry it?").fill("The ledger service is back up")
    page.screenshot(path="/tmp/run-page-retry-form.png", full_page=True)
    # The worker is stopped while the operator retries, so that the page certainly shows
    # the run running first and has to find out by polling that it completed.
    celery_worker_process.kill()
    page.get_by_role("button", name="Retry step").click()

    expect(page.get_by_role("status")).to_contain_text('"Post to ledger" is being retried.')
    status = page.locator("#run-live .facts dd").first
    expect(status).to_contain_text("Running")
    page.screenshot(path="/tmp/run-page-running.png", full_page=True)
    page.evaluate("window.reloaded = false")  # would be lost on a full reload
    celery_worker_process.start()
    expect(status).to_contain_text("Completed", timeout=20_000)
    assert page.evaluate("window.reloaded === false"), "the page reloaded instead of polling"
    expect(page.locator("#run-live")).not_to_have_attribute("hx-trigger", "every 3s")
    expect(page.get_by_role("region", name="Failed steps")).to_have_count(0)
    page.screenshot(path="/tmp/run-page-completed.png", full_page=True)

    event = RunEvent.objects.get(run=run, kind="step.retried")
    assert (event.actor, event.data["reason"]) == (operator, "The ledger service is back up")


def test_the_run_page_does_not_poll_while_an_action_form_is_open(
    page, live_server, operator, assignee
):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    polls: list[str] = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.url)
            if request.headers.get("hx-request") and f"/runs/{run.pk}/" in request.url
            else None
        ),
    )

    login(page, live_server, operator.username)
    page.goto(f"/runs/{run.pk}/")
    page.locator("details.operator-action summary").first.click()
    reason = page.locator(
        "details.operator-action[open] textarea, details.operator-action[open] input[type=text]"
    ).first
    reason.fill("Half-typed reason")
    page.wait_for_timeout(4_000)  # more than one polling period
    assert polls == [], "the page polled while an action form was open"
    expect(reason).to_have_value("Half-typed reason")

    page.locator("details.operator-action[open] summary").first.click()  # closed again
    page.wait_for_timeout(4_000)
    assert polls, "the page stopped polling for good"
