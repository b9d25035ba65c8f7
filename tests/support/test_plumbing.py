"""The test plumbing itself: a real worker takes tasks from Redis and runs background steps on
the test database; the browser drives the live server."""

import pytest
from playwright.sync_api import expect

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run
from runs.tasks import sweep
from tests.support.browser import login
from tests.support.polling import wait_for


@pytest.mark.django_db(transaction=True)
def test_worker_executes_a_task_sent_through_the_broker(celery_worker_process):
    result = sweep.delay()

    assert "succeeded" in celery_worker_process.wait_for_task(result.id)


@pytest.mark.django_db(transaction=True)
def test_killed_worker_starts_again_and_takes_new_tasks(celery_worker_process):
    celery_worker_process.kill()
    assert not celery_worker_process.alive

    celery_worker_process.start()
    result = sweep.delay()

    assert "succeeded" in celery_worker_process.wait_for_task(result.id)


@pytest.mark.django_db(transaction=True)
def test_beat_sends_the_sweep_to_the_worker(celery_beat_process, celery_worker_process):
    celery_beat_process.wait_for_log("Sending due task sweep (runs.tasks.sweep)")

    log = celery_worker_process.wait_for_log("runs.tasks.sweep[")
    assert "Task runs.tasks.sweep[" in log


@pytest.mark.django_db(transaction=True)
def test_background_steps_run_on_the_worker_with_test_actions_and_email(
    celery_worker_process, tmp_path
):
    counter = tmp_path / "counter"
    count = StepSpec("count", action="test_flaky", parameters={"counter": str(counter)})
    notify = StepSpec(
        "notify",
        action="send_email",
        parameters={
            "to": "ana@example.com",
            "subject": "Hello {{ input.name }}",
            "body": "Welcome aboard.",
        },
    )
    build(OrchestrationSpec("plumbing", stages=[StageSpec("only", steps=[count, notify])]))

    run = engine.launch("plumbing", inputs={"name": "Ana"})
    wait_for(
        lambda: Run.objects.filter(pk=run.pk).exclude(status=Run.Status.RUNNING).exists(),
        timeout=20,
        message="the run to finish",
    )

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert len(counter.read_text().splitlines()) == 1
    [message] = celery_worker_process.outbox()
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Hello Ana"
    assert message.get_content().strip() == "Welcome aboard."


@pytest.mark.browser
def test_browser_shows_the_login_page_of_the_live_server(page, live_server, tmp_path):
    page.goto("/accounts/login/")

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot = tmp_path / "login.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.browser
def test_login_helper_signs_in_through_the_form(page, live_server, assignee):
    login(page, live_server, "ana")

    assert any(cookie["name"] == "sessionid" for cookie in page.context.cookies())
