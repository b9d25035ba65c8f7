"""Operator actions: retry a failed step, skip a step, cancel a run; and the events that
record what people did without changing a run's state. Each is recorded in the run's event
log with who acted and why.
"""

import contextlib

from django.utils import timezone

from runs.engine.advancing import advance, finish_run
from runs.engine.data import jsonable
from runs.engine.errors import (
    RunNotActive,
    StepNotFound,
    StepNotRetryable,
    StepNotWaiting,
    completed_by_label,
)
from runs.engine.states import STEP_OPEN, S
from runs.engine.unit import RunState, run_transaction
from runs.models import Run, RunEvent, StageRun, StepRun

G = StageRun.Status
R = Run.Status


def _run_id_of(step_run_id: int) -> int:
    run_id = StepRun.objects.filter(pk=step_run_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise StepNotFound()
    return run_id


def retry_step(*, step_run_id: int, user, reason: str = "") -> StepRun:
    """Retry a failed step: it starts again (a background step from its first attempt) and
    the run is running again."""
    with run_transaction(_run_id_of(step_run_id)) as state:
        step_run = state.step_run(step_run_id)
        if step_run.status != S.FAILED:
            raise StepNotRetryable(
                "Only a failed step can be retried; this one is "
                f"{step_run.get_status_display().lower()}."
            )
        if state.run.status not in (R.RUNNING, R.FAILED):
            raise RunNotActive(state.run)
        state.move(step_run, S.PENDING, attempts=0, next_attempt_at=None, started_at=None)
        step_run.finished_at = None
        _reopen(state, step_run)
        state.event("step.retried", step_run=step_run, actor=user, reason=reason)
        advance(state)
    return step_run


def skip_step(*, step_run_id: int, user, reason: str = "") -> StepRun:
    """Skip a step that has not finished (its work item is cancelled; a running action's
    result will be ignored), then advance the run."""
    with run_transaction(_run_id_of(step_run_id)) as state:
        step_run = state.step_run(step_run_id)
        if step_run.status not in STEP_OPEN:
            raise StepNotWaiting(step_run, completed_by_label(step_run))
        if state.run.status not in (R.RUNNING, R.FAILED):
            raise RunNotActive(state.run)
        state.move(step_run, S.SKIPPED)
        _reopen(state, step_run)
        state.event("step.skipped", step_run=step_run, actor=user, reason=reason)
        advance(state)
    return step_run


def _reopen(state: RunState, step_run: StepRun) -> None:
    """After an operator repaired a step of a failed run: the run and its stage go on."""
    if state.run.status == R.FAILED and not any(
        sr.status == S.FAILED for sr in state.step_runs if sr is not step_run
    ):
        state.set_run(status=R.RUNNING, finished_at=None)
        state.set_stage(step_run.stage_run, G.ACTIVE)
        state.event("run.resumed")


def cancel_run(*, run_id: int, user, reason: str = "") -> Run:
    """Cancel a running or failed run: its open steps and work items are cancelled."""
    with run_transaction(run_id) as state:
        if state.run.status not in (R.RUNNING, R.FAILED):
            raise RunNotActive(state.run)
        for step_run in state.step_runs:
            if step_run.status == S.FAILED:
                state.move(step_run, S.CANCELLED)
        finish_run(state, R.CANCELLED, actor=user, reason=reason)
        children = list(
            Run.objects.filter(parent_step_run__run_id=run_id, status=R.RUNNING).values_list(
                "pk", flat=True
            )
        )
    for child_id in children:
        with contextlib.suppress(RunNotActive):
            cancel_run(run_id=child_id, user=user, reason=f"The parent run {run_id} was cancelled.")
    return state.run


def record_event(
    *, run_id: int, kind: str, actor=None, step_run_id: int | None = None, **data
) -> RunEvent:
    """Append an event that is not a run state change (a claim, a release, a reassignment)."""
    return RunEvent.objects.create(
        run_id=run_id,
        step_run_id=step_run_id,
        kind=kind,
        actor=actor,
        data=jsonable(data),
        created_at=timezone.now(),
    )
