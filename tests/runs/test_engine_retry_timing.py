"""Retry timing lives in the database: a queued retry is taken by a worker only once its
`next_attempt_at` has come, the sweeper does not re-send it before, and re-sends it after
when its message was lost. Both ways of running the engine (fast path and plain Django)."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine, sweeper
from runs.engine.states import STEP_TRANSITIONS, allowed_from
from runs.models import RunEvent, StepRun

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["fast path", "plain Django"], autouse=True)
def engine_way(request, settings):
    settings.ENGINE_FAST_PATH = request.param == "fast path"


@pytest.fixture
def sent(monkeypatch):
    """What the engine and the sweeper hand to the broker, as (step run id, attempt, countdown)."""
    from runs.tasks import execute_step

    messages = []
    monkeypatch.setattr(
        execute_step,
        "apply_async",
        lambda args, countdown=None: messages.append((args[1], args[2], countdown)),
    )
    return messages


def _failed_once(tmp_path, sent):
    """A run whose background step failed its first attempt and waits 60 s for its retry."""
    counter = tmp_path / "calls"
    step = StepSpec(
        "post",
        action="test_flaky",
        parameters={"counter": str(counter), "fail_times": 1},
        max_retries=2,
        retry_backoff=60,
    )
    build(OrchestrationSpec("ledger", stages=[StageSpec("book", steps=[step])]))
    with pytest.MonkeyPatch.context():
        run = engine.launch("ledger")
    step_run = StepRun.objects.get(run=run)
    engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=1)
    step_run.refresh_from_db()
    return run, step_run


@pytest.mark.django_db(transaction=True)
def test_a_retry_is_taken_only_once_it_is_due(tmp_path, sent):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        run, step_run = _failed_once(tmp_path, sent)
    assert step_run.status == "queued"
    assert step_run.next_attempt_at == start + datetime.timedelta(seconds=60)
    assert sent[-1] == (step_run.pk, 2, 60)  # the broker's countdown, as a first try

    # The message comes early (a redelivery, a clock ahead): nothing is taken.
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=2)
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == ("queued", 1)

    with time_machine.travel(start + datetime.timedelta(seconds=60), tick=False):
        engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=2)
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == ("completed", 2)


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_resends_a_lost_retry_after_it_is_due_and_not_before(tmp_path, sent, settings):
    settings.SWEEP_LOST_AFTER_SECONDS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        run, step_run = _failed_once(tmp_path, sent)
    sent.clear()
    # Long after it was sent, but before it is due (and lost for long enough): not re-sent.
    for seconds in (31, 60, 89):
        with time_machine.travel(start + datetime.timedelta(seconds=seconds), tick=False):
            assert sweeper.redispatch_lost_steps() == 0
    assert sent == []
    # Its message was lost: 30 s after it was due, it is sent again, without a countdown.
    with time_machine.travel(start + datetime.timedelta(seconds=91), tick=False):
        assert sweeper.redispatch_lost_steps() == 1
        assert sent == [(step_run.pk, 2, None)]
        engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=2)
    step_run.refresh_from_db()
    assert step_run.status == "completed"
    assert RunEvent.objects.filter(run=run, kind="step.redispatched").count() == 1


def test_the_take_moves_only_from_the_statuses_the_state_diagram_allows():
    assert allowed_from("running") == ("queued",)
    assert all(
        ("running" in targets) == (status in allowed_from("running"))
        for status, targets in STEP_TRANSITIONS.items()
    )


@pytest.mark.django_db(transaction=True)
def test_a_step_run_that_is_not_queued_is_not_taken(assignee):
    desk = StepSpec("assign_desk", assignee=assignee)
    build(OrchestrationSpec("desk", stages=[StageSpec("book", steps=[desk])]))
    run = engine.launch("desk")
    step_run = StepRun.objects.get(run=run)
    assert step_run.status == "waiting"
    engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=1)
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == ("waiting", 0)
