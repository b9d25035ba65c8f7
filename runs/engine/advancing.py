"""Advancing a run: a pure consequence of its definition and its stored state. After any
step finishes, start every pending step of the active stage whose dependencies are done
(its entry condition first); when the stage is done, follow its routes to the next stage, or
finish the run. Also the two ways a run moves forward from outside: a launch, and a person
completing an interactive step.
"""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction

from orchestrator.expressions import ExpressionError, MissingData, condition_holds
from orchestrator.models import Orchestration, StageRoute, Step
from orchestrator.plan import StagePlan, VersionPlan, load_plan
from runs.duties import excluded_people, refusal
from runs.engine.data import jsonable, record_snapshot
from runs.engine.errors import (
    CompletionRefused,
    OrchestrationNotFound,
    RecordRefused,
    RunNotActive,
    StepNotWaiting,
    completed_by_label,
)
from runs.engine.failures import expression_failed, what_to_do
from runs.engine.states import STEP_DONE, STEP_OPEN, S
from runs.engine.unit import RunState, active_version_id, new_run_transaction, run_transaction
from runs.kinds import StepCannotStart, StepRefused, StepStart, get_kind
from runs.models import Run, StageRun, StepRun
from runs.records import new_record

G = StageRun.Status
R = Run.Status
MAX_PASSES = 10_000


def advance(state: RunState) -> None:
    """Start what is ready and finish what is done, until nothing changes (a loop, not
    recursion: a skipped step can make the next one ready at once)."""
    assert state.db.in_atomic_block
    for _ in range(MAX_PASSES):
        if state.run.status != R.RUNNING:
            return
        stage_run = state.active_stage_run()
        if stage_run is None or not _progress_stage(state, stage_run):
            return
    raise RuntimeError(f"run {state.run.pk} did not settle after {MAX_PASSES} passes")


def _progress_stage(state: RunState, stage_run: StageRun) -> bool:
    stage_plan = state.plan.stage_by_id[stage_run.stage_id]
    step_runs = state.steps_of(stage_run)
    if any(sr.status == S.FAILED for sr in step_runs):
        return False
    exit_condition = stage_plan.stage.exit_condition
    if exit_condition.strip() and _exit_condition_holds(state, stage_run, stage_plan):
        for step_run in step_runs:
            if step_run.status in STEP_OPEN:
                state.move(step_run, S.CANCELLED)
                state.event("step.cancelled", step_run=step_run, reason="stage exit condition")
        _finish_stage(state, stage_run, stage_plan)
        return True
    if state.run.status != R.RUNNING:
        return True
    changed = False
    done = {sr.step_id for sr in step_runs if sr.status in STEP_DONE}
    for step_run in step_runs:
        if step_run.status != S.PENDING:
            continue
        if not all(dep in done for dep in state.plan.depends_on[step_run.step_id]):
            continue
        _start_step(state, step_run)
        if state.run.status != R.RUNNING:
            return True
        changed = True
        if step_run.status in STEP_DONE:
            done.add(step_run.step_id)
    if all(sr.status in STEP_DONE for sr in step_runs):
        _finish_stage(state, stage_run, stage_plan)
        return True
    return changed


def _exit_condition_holds(state: RunState, stage_run: StageRun, stage_plan: StagePlan) -> bool:
    """An exit condition that reads answers not given yet is simply not true yet; one that
    cannot be evaluated stops the run with the stage failed (a retry evaluates it again)."""
    try:
        return condition_holds(stage_plan.stage.exit_condition, state.data())
    except MissingData:
        return False
    except ExpressionError as exc:
        what = f'The exit condition of stage "{stage_plan.stage.label}"'
        fail_run(state, expression_failed(state, what, exc, step=False), stage_run=stage_run)
        return False


def _start_step(state: RunState, step_run: StepRun) -> None:
    """Start the step run, or skip it when its entry condition is false. When the condition
    cannot be evaluated or the kind cannot start it, the step run fails with a sentence that
    says what to do, and so does the run (the step's Retry starts it again)."""
    step = state.plan.steps[step_run.step_id]
    if step.entry_condition.strip():
        try:
            holds = condition_holds(step.entry_condition, state.data())
        except ExpressionError as exc:
            what = f'The entry condition of step "{step.label}"'
            _fail_step(state, step_run, expression_failed(state, what, exc, step=True))
            return
        if not holds:
            state.move(step_run, S.SKIPPED)
            state.event("step.skipped", step_run=step_run, reason="entry condition is false")
            return
    kind = get_kind(step.kind)
    start = StepStart(
        run=state.run,
        step_run=step_run,
        step=step,
        data=state.data(),
        now=state.now,
        new_row=state.new_row,
    )
    start.excluded = _excluded(state, step)
    try:
        start.prepared = kind.prepare(start)
    except StepCannotStart as exc:
        error = str(exc)
        if exc.reads:
            error = f"{error} {what_to_do(state, exc.reads, step=True)}"
        _fail_step(state, step_run, error)
        return
    state.move(step_run, kind.start_status, started_at=state.now)
    state.start_later(start)
    state.event("step.started", step_run=step_run)


def _fail_step(state: RunState, step_run: StepRun, error: str) -> None:
    state.move(step_run, S.FAILED, error=error)
    state.event("step.failed", step_run=step_run, error=error)
    fail_run(state, error, stage_run=step_run.stage_run)


def _finish_stage(state: RunState, stage_run: StageRun, stage_plan: StagePlan) -> None:
    """Complete the stage and follow the first route whose condition holds (and whose repeat
    bound is not reached), else go on to the next stage in order. A route condition that
    cannot be evaluated stops the run with the stage failed; a retry of the run comes back
    here."""
    chosen = None
    limited: list[tuple[StageRoute, StagePlan]] = []  # rework routes past their bound
    for route in stage_plan.routes:
        if route.condition.strip():
            try:
                holds = condition_holds(route.condition, state.data())
            except ExpressionError as exc:
                what = f'The route condition of stage "{stage_plan.stage.label}"'
                error = expression_failed(state, what, exc, step=False)
                fail_run(state, error, stage_run=stage_run)
                return
            if not holds:
                continue
        if route.action != StageRoute.Action.END:
            target = state.plan.stage_by_id[route.target_stage_id]
            repeats = sum(1 for sr in state.stage_runs if sr.stage_id == target.id) - 1
            if target.index <= stage_plan.index and repeats >= route.max_repeats:
                limited.append((route, target))
                continue
        chosen = route
        break
    state.set_stage(stage_run, G.COMPLETED)
    state.event("stage.completed", stage=stage_plan.stage.key, iteration=stage_run.iteration)
    for route, target in limited:
        state.event(
            "route.limit_reached",
            stage=stage_plan.stage.key,
            target=target.stage.key,
            max_repeats=route.max_repeats,
        )
    if chosen is None:
        enter_stage(state, state.plan.stage_after(stage_plan.id))
    elif chosen.action == StageRoute.Action.END:
        finish_run(state, R.COMPLETED, outcome=chosen.outcome or "completed")
    else:
        target = state.plan.stage_by_id[chosen.target_stage_id]
        state.event("route.taken", stage=stage_plan.stage.key, target=target.stage.key)
        enter_stage(state, target)


def enter_stage(state: RunState, stage_plan: StagePlan | None) -> None:
    """Enter the stage (a new iteration if it ran before); a stage whose entry condition is
    false is skipped and the next one in order is entered, until one is active or the run
    ends. An entry condition that cannot be evaluated stops the run with the stage run
    failed before it started; a retry of the run enters it again."""
    while stage_plan is not None:
        stage_run = state.latest_stage_run(stage_plan.id)
        if stage_run is None or stage_run.status != G.PENDING:
            iteration = stage_run.iteration + 1 if stage_run else 1
            stage_run = state.new_stage_run(stage_plan, iteration)
        entry = stage_plan.stage.entry_condition
        if entry.strip():
            try:
                holds = condition_holds(entry, state.data())
            except ExpressionError as exc:
                what = f'The entry condition of stage "{stage_plan.stage.label}"'
                error = expression_failed(state, what, exc, step=False)
                fail_run(state, error, stage_run=stage_run)
                return
            if not holds:
                state.set_stage(stage_run, G.SKIPPED)
                for step_run in state.steps_of(stage_run):
                    state.move(step_run, S.SKIPPED)
                state.event(
                    "stage.skipped", stage=stage_plan.stage.key, reason="entry condition is false"
                )
                stage_plan = state.plan.stage_after(stage_plan.id)
                continue
        state.set_stage(stage_run, G.ACTIVE)
        state.event("stage.started", stage=stage_plan.stage.key, iteration=stage_run.iteration)
        return
    finish_run(state, R.COMPLETED, outcome="completed")


def _close_open_rows(state: RunState, step_status: str, stage_status: str) -> None:
    for step_run in state.step_runs:
        if step_run.status in STEP_OPEN and step_run.status != S.FAILED:
            state.move(step_run, step_status)
    for stage_run in state.stage_runs:
        if stage_run.status in (G.PENDING, G.ACTIVE):
            state.set_stage(stage_run, stage_status)


def finish_run(state: RunState, status: str, *, outcome: str = "", actor=None, **data) -> None:
    _close_open_rows(
        state,
        S.SKIPPED if status == R.COMPLETED else S.CANCELLED,
        G.SKIPPED if status == R.COMPLETED else G.CANCELLED,
    )
    state.set_run(status=status, outcome=outcome, finished_at=state.now)
    state.event(f"run.{status}", actor=actor, outcome=outcome, **data)
    _resume_parent_after_commit(state)


def fail_run(state: RunState, error: str, *, stage_run: StageRun | None = None) -> None:
    if stage_run is not None:
        state.set_stage(stage_run, G.FAILED)
    state.set_run(status=R.FAILED, finished_at=state.now)
    state.event("run.failed", error=error)
    _resume_parent_after_commit(state)


def _resume_parent_after_commit(state: RunState) -> None:
    """A child run has finished: its parent's waiting step hears of it once this commits."""
    parent_step_run_id = state.run.parent_step_run_id
    if parent_step_run_id:
        from runs.engine.background import resume_parent  # background imports this module

        transaction.on_commit(lambda: resume_parent(step_run_id=parent_step_run_id), robust=True)


# Launching -------------------------------------------------------------------------------


def launch(
    orchestration_key: str,
    *,
    inputs: dict[str, Any] | None = None,
    record: models.Model | None = None,
    started_by=None,
    title: str = "",
) -> Run:
    """Start a run of the orchestration's active version (the run is pinned to it): creates
    the run with its stage runs and step runs, and starts the first stage."""
    version_id = active_version_id(orchestration_key)
    if version_id is None:
        if not Orchestration.objects.filter(key=orchestration_key).exists():
            raise OrchestrationNotFound(f'There is no orchestration "{orchestration_key}".')
        raise OrchestrationNotFound(
            f'The orchestration "{orchestration_key}" has no active version to run.'
        )
    plan = load_plan(version_id)
    fields = new_run_fields(plan, inputs=inputs, record=record, started_by=started_by, title=title)
    with new_run_transaction(plan, **fields) as state:
        start_run(state)
    return state.run


def new_run_fields(
    plan: VersionPlan, *, inputs, record, started_by, title: str, parent_step_run=None
) -> dict[str, Any]:
    """The fields of a new run: its context (inputs, who started it, the record's snapshot),
    the related record, a title."""
    context: dict[str, Any] = {"input": jsonable(inputs or {})}
    if started_by is not None:
        context["started_by"] = started_by.get_username()
    fields: dict[str, Any] = {
        "context": context,
        "started_by": started_by,
        "parent_step_run": parent_step_run,
        "title": title[:200],
    }
    if record is not None:
        fields["record_type"] = ContentType.objects.get_for_model(record)
        fields["record_id"] = str(record.pk)
        context["record"] = record_snapshot(record)
        fields["title"] = fields["title"] or str(record)[:200]
    return fields


def start_run(state: RunState) -> None:
    """Enter a new run's first stage and advance it."""
    state.event("run.started", actor=state.run.started_by, inputs=state.run.context["input"])
    enter_stage(state, state.plan.stages[0] if state.plan.stages else None)
    advance(state)


# Completing interactive steps ------------------------------------------------------------


def complete_step(*, run_id: int, step_run_id: int, outputs: dict[str, Any], user) -> StepRun:
    """Complete a waiting step run with a person's answers, then advance the run. The caller
    has checked that `user` may; this checks that the step is still waiting."""
    with run_transaction(run_id) as state:
        step_run = state.step_run(step_run_id)
        if step_run.status != S.WAITING:
            raise StepNotWaiting(step_run, completed_by_label(step_run))
        if state.run.status != R.RUNNING:
            raise RunNotActive(state.run)
        step = state.plan.steps[step_run.step_id]
        # Separation of duties, whoever let the person this far (a group member, say).
        why = _excluded(state, step).get(getattr(user, "pk", None))
        if why:
            raise CompletionRefused(refusal("You", why, step))
        outputs = jsonable(outputs)
        state.move(step_run, S.COMPLETED, outputs=outputs, completed_by=user)
        try:
            get_kind(step.kind).completed(step_run, user, state.now)
        except StepRefused as exc:
            raise CompletionRefused(str(exc)) from exc
        state.event("step.completed", step_run=step_run, actor=user)
        if step.creates_record_id:
            _create_record(state, step, outputs)
        advance(state)
    return step_run


def _excluded(state: RunState, step: Step) -> dict[int, str]:
    """Who may not complete `step` in this run (from the rows the unit of work holds)."""
    return excluded_people(
        state.plan, step, started_by_id=state.run.started_by_id, step_runs=state.step_runs
    )


def _create_record(state: RunState, step: Step, outputs: dict[str, Any]) -> None:
    """Create the step's record from the answers (fields matched by name) and relate it.
    Answers the model refuses refuse the completion (the screen flow checks them first)."""
    model = step.creates_record.model_class()
    try:
        record = new_record(model, outputs)
    except ValidationError as exc:
        raise RecordRefused(model, exc) from exc
    record.save()
    context = dict(state.run.context)
    context["record"] = record_snapshot(record)
    state.set_run(
        record_type=step.creates_record,
        record_id=str(record.pk),
        context=context,
        title=str(record)[:200],
    )
    state.event("record.created", model=model._meta.label, id=record.pk)
