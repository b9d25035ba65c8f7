"""Background steps: a worker takes an attempt, runs the action outside any lock, and records
what it gave; retries with back-off, wait timers, child runs, and the sweeper's time-outs.

Retry timing lives in the database: a failed attempt that will be retried goes back to
`queued` with `next_attempt_at`. The message is sent with that countdown, but a worker takes
the attempt only once it is due, and the sweeper re-sends a due attempt whose message was
lost (runs/sweeper.py).
"""

import datetime
import logging
import traceback as traceback_module
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from orchestrator.actions import (
    ActionContext,
    InvalidParameter,
    LaunchChild,
    Result,
    Suspend,
    get_action,
)
from orchestrator.expressions import resolve_value
from orchestrator.models import OrchestrationVersion, Step
from orchestrator.plan import VersionPlan, load_plan
from runs.answers import visible_data
from runs.engine.advancing import advance, fail_run, new_run_fields, start_run
from runs.engine.data import jsonable, run_data
from runs.engine.states import S
from runs.engine.unit import RunState, run_transaction, take_attempt
from runs.kinds import dispatch
from runs.models import Run, StepRun

logger = logging.getLogger(__name__)
R = Run.Status


@dataclass
class _Attempt:
    run: Run
    step_run: StepRun
    step: Step
    data: dict[str, Any]
    plan: VersionPlan


def execute_attempt(*, run_id: int, step_run_id: int, attempt: int) -> None:
    """What a worker does with one message: take the attempt (queued -> running), run the
    action outside any lock, record the result. A redelivered message takes nothing."""
    taken = _take_attempt(run_id=run_id, step_run_id=step_run_id, attempt=attempt)
    if taken is None:
        return
    outcome: Any
    error = tb = ""
    retry = True
    try:
        action = get_action(taken.step.action)
        if action is None:
            raise LookupError(f'No action "{taken.step.action}" is installed.')
        shown = taken.data
        if action.shows_answers:
            # An email: only the confidential answers its step is named to see.
            shown = visible_data(taken.plan, taken.data, reader_step_id=taken.step.id)
        params = resolve_value(taken.step.parameters or {}, shown)
        broken = action.line_broken(params)
        if broken:
            names = " and ".join(f'"{name}"' for name in broken)
            raise InvalidParameter(
                f'The {names} of step "{taken.step.label}" must be one line, but the run data '
                "put a line break in it; correct that data and retry the step."
            )
        context = ActionContext(
            run_id=run_id,
            step_run_id=step_run_id,
            step_key=taken.step.key,
            attempt=attempt,
            data=taken.data,
            load_record=(lambda: taken.run.record) if taken.run.record_id else None,
            record_model=(
                ContentType.objects.get_for_id(taken.run.record_type_id).model_class()
                if taken.run.record_type_id
                else None
            ),
            record_pk=taken.run.record_id or None,
        )
        outcome = action.function(params, context)
    except Exception as exc:
        outcome = None
        error = str(exc) or exc.__class__.__name__
        retry = getattr(exc, "retryable", True)
        tb = traceback_module.format_exc()
        logger.warning(
            "run %s step run %s attempt %s failed: %s", run_id, step_run_id, attempt, error
        )
    record_attempt(
        run_id=run_id,
        step_run_id=step_run_id,
        attempt=attempt,
        outcome=outcome,
        error=error,
        traceback=tb,
        retry=retry,
    )


def _take_attempt(*, run_id: int, step_run_id: int, attempt: int) -> _Attempt | None:
    """queued -> running for this attempt (unit.take_attempt()), then what the action needs;
    None when the step run has moved on (a duplicate or stale message) or its retry is not
    due yet."""
    taken = take_attempt(run_id=run_id, step_run_id=step_run_id, attempt=attempt)
    if taken is None:
        return None
    run, step_runs = taken
    plan = load_plan(run.version_id)
    step_run = next(sr for sr in step_runs if sr.pk == step_run_id)
    return _Attempt(
        run=run,
        step_run=step_run,
        step=plan.steps[step_run.step_id],
        data=run_data(run, step_runs, plan),
        plan=plan,
    )


def record_attempt(
    *,
    run_id: int,
    step_run_id: int,
    attempt: int,
    outcome: Any = None,
    error: str = "",
    traceback: str = "",
    retry: bool = True,
) -> None:
    """Record what an attempt of a background step gave: outputs, a wait, a child run, or an
    error (retried with back-off up to the step's limit, then the run fails; at once when
    `retry` is false: another attempt would fail alike)."""
    with run_transaction(run_id) as state:
        step_run = state.step_run(step_run_id)
        if step_run.status != S.RUNNING or step_run.attempts != attempt:
            return  # A stale result: the step was skipped, cancelled or timed out meanwhile.
        step = state.plan.steps[step_run.step_id]
        if error:
            _attempt_failed(state, step_run, step, error, traceback, retry=retry)
        elif isinstance(outcome, Suspend):
            state.move(
                step_run, S.WAITING, outputs=jsonable(outcome.outputs), timer_due_at=outcome.until
            )
            state.event("step.waiting", step_run=step_run, until=outcome.until.isoformat())
        elif isinstance(outcome, LaunchChild):
            _launch_child(state, step_run, outcome)
        else:
            if isinstance(outcome, Result):
                if outcome.record_fields:
                    context = dict(state.run.context)
                    context["record"] = {
                        **context.get("record", {}),
                        **jsonable(outcome.record_fields),
                    }
                    state.set_run(context=context)
                outcome = outcome.outputs
            outputs = jsonable(outcome if isinstance(outcome, dict) else {"result": outcome})
            state.move(step_run, S.COMPLETED, outputs=outputs, error="", traceback="")
            state.event("step.completed", step_run=step_run, attempt=attempt)
        advance(state)


def _attempt_failed(
    state: RunState, step_run: StepRun, step: Step, error: str, tb: str, *, retry: bool = True
) -> None:
    attempt = step_run.attempts
    if retry and attempt <= step.max_retries:
        delay = step.retry_backoff_seconds * (2 ** (attempt - 1))
        next_at = state.now + datetime.timedelta(seconds=delay)
        state.move(
            step_run,
            S.QUEUED,
            error=error,
            traceback=tb,
            next_attempt_at=next_at,
            dispatched_at=state.now,
        )
        state.event(
            "step.attempt_failed", step_run=step_run, attempt=attempt, error=error, retry_in=delay
        )
        dispatch(step_run, countdown=delay)
        return
    state.move(step_run, S.FAILED, error=error, traceback=tb)
    state.event("step.failed", step_run=step_run, attempt=attempt, error=error)
    fail_run(
        state,
        f'"{step.label}" failed after {attempt} attempts: {error}'
        if retry
        else f'"{step.label}" failed: {error}',
        stage_run=step_run.stage_run,
    )


def _launch_child(state: RunState, step_run: StepRun, launch_child: LaunchChild) -> None:
    version = OrchestrationVersion.objects.filter(
        orchestration__key=launch_child.orchestration_key, status=OrchestrationVersion.Status.ACTIVE
    ).first()
    step = state.plan.steps[step_run.step_id]
    if version is None:
        _attempt_failed(
            state,
            step_run,
            step,
            f'The orchestration "{launch_child.orchestration_key}" has no active version.',
            "",
        )
        return
    # Lock order: the parent is locked; the child is new, so nothing else can hold it. The
    # child is written in the parent's transaction.
    plan = load_plan(version.pk)
    fields = new_run_fields(
        plan,
        inputs=launch_child.inputs,
        record=None,
        started_by=state.run.started_by,
        title=f"{state.run.title or state.run.pk}: {step.label}",
        parent_step_run=step_run,
    )
    child = RunState.new_run(state.db, plan, fast=state.fast, **fields)
    start_run(child)
    child.flush()
    outputs = {"run_id": child.run.pk}
    if launch_child.wait and child.run.status == R.RUNNING:
        state.move(step_run, S.WAITING, outputs=outputs)
        state.event("step.waiting", step_run=step_run, child_run=child.run.pk)
    else:
        outputs["outcome"] = child.run.outcome
        state.move(step_run, S.COMPLETED, outputs=outputs)
        state.event("step.completed", step_run=step_run, child_run=child.run.pk)


def resume_parent(*, step_run_id: int) -> None:
    """A child run finished: complete (or fail) the parent's waiting step with its outcome."""
    parent_run_id = StepRun.objects.filter(pk=step_run_id).values_list("run_id", flat=True).first()
    if parent_run_id is None:
        return
    with run_transaction(parent_run_id) as state:
        step_run = state.step_run(step_run_id)
        if step_run.status != S.WAITING or state.run.status != R.RUNNING:
            return
        child = Run.objects.filter(parent_step_run_id=step_run_id).order_by("-id").first()
        if child is None or child.status == R.RUNNING:
            return
        if child.status == R.COMPLETED:
            outputs = {**step_run.outputs, "run_id": child.pk, "outcome": child.outcome}
            state.move(step_run, S.COMPLETED, outputs=outputs)
            state.event("step.completed", step_run=step_run, child_run=child.pk)
        else:
            error = f"Child run {child.pk} was {child.get_status_display().lower()}."
            state.move(step_run, S.FAILED, error=error)
            state.event("step.failed", step_run=step_run, error=error)
            fail_run(state, error, stage_run=step_run.stage_run)
        advance(state)


def fire_timer(*, run_id: int, step_run_id: int) -> bool:
    """Complete a waiting step whose timer is due (the `wait` action). False if the run is
    locked by someone else right now, or the timer is not due: the next sweep tries again."""
    with run_transaction(run_id, skip_locked=True) as state:
        if state is None:
            return False
        step_run = state.step_run(step_run_id)
        if (
            step_run.status != S.WAITING
            or step_run.timer_due_at is None
            or step_run.timer_due_at > state.now
            or state.run.status != R.RUNNING
        ):
            return False
        state.move(step_run, S.COMPLETED, timer_due_at=None)
        state.event("step.completed", step_run=step_run, timer=True)
        advance(state)
    return True


def time_out_attempt(*, run_id: int, step_run_id: int, attempt: int, error: str) -> bool:
    """A running attempt whose worker stopped answering counts as failed (and is retried
    within the step's limit). False if the run is locked right now or the attempt moved on."""
    with run_transaction(run_id, skip_locked=True) as state:
        if state is None:
            return False
        step_run = state.step_run(step_run_id)
        if step_run.status != S.RUNNING or step_run.attempts != attempt:
            return False
        _attempt_failed(state, step_run, state.plan.steps[step_run.step_id], error, "")
        advance(state)
    return True
