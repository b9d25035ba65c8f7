"""Background steps on a real Celery worker process, through the tests' broker.

The worker is its own process (tests/support/worker.py) on the test database; these tests
commit for real (transaction=True) so that it sees the rows.
"""

import datetime
from pathlib import Path

import pytest

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine, sweeper
from runs.models import Run, RunEvent, StepRun
from runs.tasks import execute_step
from tests.support.polling import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def run_status(run: Run) -> str:
    return Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()


def calls(counter: Path) -> list[str]:
    return counter.read_text().splitlines() if counter.exists() else []


def finished_deliveries(worker) -> int:
    """How many execute_step messages the worker has logged as finished."""
    return sum(
        "runs.tasks.execute_step[" in line and (" succeeded in " in line or " raised " in line)
        for line in worker.log_text().splitlines()
    )


def flaky(counter: Path, params: dict | None = None, **step) -> StepSpec:
    """The step "call" of action test_flaky, counting its calls in `counter`."""
    step.setdefault("retry_backoff", 0.01)
    parameters = {"counter": str(counter), **(params or {})}
    return StepSpec("call", action="test_flaky", parameters=parameters, **step)


def test_the_same_message_delivered_twice_runs_once(celery_worker_process, tmp_path):
    counter = tmp_path / "calls"
    build(OrchestrationSpec("dup", stages=[StageSpec("one", steps=[flaky(counter)])]))
    run = engine.launch("dup")
    step_run = StepRun.objects.get(run=run)
    execute_step.delay(run.pk, step_run.pk, 1)  # the broker redelivers the message
    wait_for(lambda: run_status(run) == "completed", message="the run to complete")
    wait_for(
        lambda: finished_deliveries(celery_worker_process) >= 2,
        message="the worker to finish both deliveries",
    )
    assert len(calls(counter)) == 1
    assert RunEvent.objects.filter(run=run, kind="step.completed").count() == 1
    assert RunEvent.objects.filter(run=run, kind="run.completed").count() == 1


def test_a_worker_killed_mid_step_is_recovered_and_nothing_runs_twice(
    celery_worker_process, tmp_path
):
    counter = tmp_path / "calls"
    call = flaky(counter, {"sleep": 60}, timeout=datetime.timedelta(seconds=2), max_retries=3)
    after = StepSpec("after", action="log", parameters={"message": "hello"})
    build(
        OrchestrationSpec(
            "killed", stages=[StageSpec("one", steps=[call]), StageSpec("two", steps=[after])]
        )
    )
    run = engine.launch("killed")
    wait_for(lambda: len(calls(counter)) == 1, message="the first attempt to start")
    celery_worker_process.kill()  # SIGKILL, mid-action
    celery_worker_process.start()
    step_run = StepRun.objects.get(run=run, step__key="call")
    assert step_run.status == "running"
    wait_for(lambda: sweeper.time_out_dead_steps() == 1, timeout=10, message="the timeout")
    wait_for(lambda: run_status(run) == "completed", message="the run to complete")
    assert [line.split()[1] for line in calls(counter)] == ["1", "2"]
    events = RunEvent.objects.filter(run=run)
    assert events.filter(kind="step.attempt_failed").count() == 1
    assert events.filter(kind="step.completed", step_run=step_run).count() == 1
    assert events.filter(kind="stage.completed").count() == 2
    assert events.filter(kind="run.completed").count() == 1


def test_a_step_whose_message_the_broker_lost_is_redispatched_by_the_sweeper(
    celery_worker_process, tmp_path, settings, empty_broker
):
    counter = tmp_path / "calls"
    build(OrchestrationSpec("lost", stages=[StageSpec("one", steps=[flaky(counter)])]))
    celery_worker_process.stop()
    run = engine.launch("lost")
    empty_broker()  # the broker forgets
    celery_worker_process.start()
    # A message for no step run, on the same queue: once the worker has finished it, it has
    # taken whatever the broker still held before it.
    celery_worker_process.wait_for_task(execute_step.delay(0, 0, 1).id)
    assert run_status(run) == "running"
    assert calls(counter) == []
    settings.SWEEP_LOST_AFTER_SECONDS = 1
    assert sweeper.redispatch_lost_steps() == 1
    wait_for(lambda: run_status(run) == "completed", message="the run to complete")
    assert len(calls(counter)) == 1
    assert RunEvent.objects.filter(run=run, kind="step.redispatched").count() == 1


def test_an_action_failing_three_times_is_retried_with_back_off(celery_worker_process, tmp_path):
    counter = tmp_path / "calls"
    call = flaky(counter, {"fail_times": 3}, max_retries=3, retry_backoff=0.2)
    build(OrchestrationSpec("flaky", stages=[StageSpec("one", steps=[call])]))
    run = engine.launch("flaky")
    wait_for(lambda: run_status(run) == "completed", message="the run to complete")
    assert len(calls(counter)) == 4
    failures = RunEvent.objects.filter(run=run, kind="step.attempt_failed").order_by("id")
    assert [event.data["retry_in"] for event in failures] == [0.2, 0.4, 0.8]
    assert [event.data["error"] for event in failures] == [
        "Planned failure 1",
        "Planned failure 2",
        "Planned failure 3",
    ]


def test_an_action_that_always_fails_fails_the_run_then_an_operator_retry_succeeds(
    celery_worker_process, tmp_path, operator
):
    flag = tmp_path / "ledger-down"
    flag.touch()
    post_ledger = StepSpec(
        "post_ledger",
        action="test_fail_while",
        parameters={"flag": str(flag)},
        max_retries=2,
        retry_backoff=0.1,
    )
    build(OrchestrationSpec("always", stages=[StageSpec("one", steps=[post_ledger])]))
    run = engine.launch("always")
    wait_for(lambda: run_status(run) == "failed", message="the run to fail")
    step_run = StepRun.objects.get(run=run)
    assert step_run.status == "failed"
    assert step_run.attempts == 3
    assert step_run.error == "The ledger service is down."
    assert "ActionFailed" in step_run.traceback
    failed = RunEvent.objects.get(run=run, kind="run.failed")
    assert "failed after 3 attempts: The ledger service is down." in failed.data["error"]

    flag.unlink()  # the cause is fixed
    engine.retry_step(step_run_id=step_run.pk, user=operator, reason="Ledger is back")
    wait_for(lambda: run_status(run) == "completed", message="the run to complete")
    retried = RunEvent.objects.get(run=run, kind="step.retried")
    assert (retried.actor, retried.data["reason"]) == (operator, "Ledger is back")
