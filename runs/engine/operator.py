"""Operator actions: retry a failed step, skip a step, cancel a run, and repair a run that
stopped on its own data (correct a step's answers, then retry the run); and the events that
record what people did without changing a run's state. Each is recorded in the run's event
log with who acted and why.
"""

import contextlib

from django.utils import timezone

from runs.engine.advancing import advance, enter_stage, finish_run
from runs.engine.data import answering_step_runs, jsonable
from runs.engine.errors import (
    AnswersInvalid,
    AnswersNotCorrectable,
    RunNotActive,
    RunNotRetryable,
    StepNotFound,
    StepNotRetryable,
    StepNotWaiting,
    completed_by_label,
)
from runs.engine.states import STEP_OPEN, S, run_may_move
from runs.engine.unit import RunState, run_transaction
from runs.kinds import get_kind
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


def retry_run(*, run_id: int, user, reason: str = "") -> Run:
    """Take up a run that stopped on a condition it could not evaluate (typically after an
    operator corrected the answers it read): the run is running again, and its failed stage
    run is entered again (it stopped on its entry condition, before it started) or made
    active again (its exit or route condition is evaluated anew), then the run advances. A
    run stopped by a failed step is taken up by retrying or skipping that step."""
    with run_transaction(run_id) as state:
        run = state.run
        if not run_may_move(run.status, R.RUNNING):
            if run.status == R.RUNNING:
                raise RunNotRetryable("This run is running: there is nothing to retry.")
            raise RunNotActive(run)
        failed_step = next((sr for sr in state.step_runs if sr.status == S.FAILED), None)
        if failed_step is not None:
            label = state.plan.steps[failed_step.step_id].label
            raise RunNotRetryable(
                f'The step "{label}" failed: retry or skip it under "Failed steps".'
            )
        stage_run = next((sr for sr in reversed(state.stage_runs) if sr.status == G.FAILED), None)
        if stage_run is None:
            raise RunNotRetryable(
                "This run did not record where it stopped, so it cannot be retried: cancel it."
            )
        stage_plan = state.plan.stage_by_id[stage_run.stage_id]
        state.set_run(status=R.RUNNING, finished_at=None)
        state.event("run.retried", actor=user, reason=reason, stage=stage_plan.stage.key)
        if stage_run.started_at is None:
            state.set_stage(stage_run, G.PENDING)
            enter_stage(state, stage_plan)
        else:
            state.set_stage(stage_run, G.ACTIVE)
        advance(state)
    return state.run


def correct_answers(*, step_run_id: int, values, user, reason: str = "") -> StepRun:
    """Correct what a completed step run answered, while its run is stopped by an error:
    `values` (the posted form values) are validated by the step's kind like the form the
    person filled in (AnswersInvalid carries the form with its errors); the step run's
    outputs take the corrected answers, and `step.answers_corrected` records the answers that
    changed, before and after. The run stays stopped until an operator retries it.

    Only a failed run's answers can be corrected: in a running run, later steps may already
    have acted on them; a finished run's history is final."""
    with run_transaction(_run_id_of(step_run_id)) as state:
        step_run = state.step_run(step_run_id)
        step = state.plan.steps[step_run.step_id]
        if state.run.status != R.FAILED:
            raise AnswersNotCorrectable(
                "Answers can only be corrected while the run is stopped by an error; this "
                f"run is {state.run.get_status_display().lower()}."
            )
        if step_run.status != S.COMPLETED:
            raise AnswersNotCorrectable(
                "Only the answers of a completed step can be corrected; this one is "
                f"{step_run.get_status_display().lower()}."
            )
        if answering_step_runs(state.step_runs).get(step_run.step_id) is not step_run:
            raise AnswersNotCorrectable(
                f'"{step.label}" was answered again later; correct the latest answers.'
            )
        form = get_kind(step.kind).answers_form(state.plan, step_run, data=values)
        if form is None:
            raise AnswersNotCorrectable(f'"{step.label}" has no answers to correct.')
        if not form.is_valid():
            raise AnswersInvalid(form)
        answers = jsonable(form.answers())
        outputs = step_run.outputs
        before = {
            key: outputs.get(key) for key, value in answers.items() if outputs.get(key) != value
        }
        if not before:
            raise AnswersNotCorrectable(
                f'These are already the answers of "{step.label}": nothing was changed.'
            )
        after = {key: answers[key] for key in before}
        state.set_outputs(step_run, {**outputs, **answers})
        state.event(
            "step.answers_corrected",
            step_run=step_run,
            actor=user,
            reason=reason,
            before=before,
            after=after,
        )
    return step_run


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
