"""The run engine: the only code that changes the state of runs, stage runs and step runs.

Every public function enters the same way: `transaction.atomic()`, then `_RunState.lock()`
takes the run's row lock (`SELECT ... FOR UPDATE`) and re-reads its stage runs and step runs
(on PostgreSQL both in one statement, the `runs_lock_run()` function), then guards, then
changes. Two users, two workers, or a user and a worker acting on one run
at once are serialised; the loser sees the new state and gets a clear answer. The one lock
order is parent run before child run: a child run only reaches its parent after its own
transaction has committed (`transaction.on_commit`).

Within a transaction the state is worked on in memory and written once at the end
(`_RunState.flush()`): new rows in bulk, changed rows in one bulk update per table, events
in one insert, all sent in one round trip on PostgreSQL, with the COMMIT when the flush ends
the transaction. That keeps the SQL per transition small and fixed; runs/rows.py builds it
once per process.
"""

import contextlib
import datetime
import logging
import traceback as traceback_module
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from orchestrator.actions import ActionContext, LaunchChild, Result, Suspend, get_action
from orchestrator.dates import said_when
from orchestrator.expressions import ExpressionError, MissingData, condition_holds, resolve_value
from orchestrator.models import Orchestration, OrchestrationVersion, StageRoute, Step
from orchestrator.plan import StagePlan, VersionPlan, load_plan
from runs import rows
from runs.kinds import StepCannotStart, StepRefused, StepStart, dispatch, get_kind
from runs.models import Run, RunEvent, StageRun, StepRun

logger = logging.getLogger(__name__)

S = StepRun.Status
G = StageRun.Status
R = Run.Status

# The step run state diagram: a transition not listed here is a programming error.
STEP_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.QUEUED, S.WAITING, S.SKIPPED, S.CANCELLED, S.FAILED},
    S.QUEUED: {S.RUNNING, S.SKIPPED, S.CANCELLED},
    S.RUNNING: {S.COMPLETED, S.QUEUED, S.WAITING, S.FAILED, S.SKIPPED, S.CANCELLED},
    S.WAITING: {S.COMPLETED, S.FAILED, S.SKIPPED, S.CANCELLED},
    S.FAILED: {S.PENDING, S.SKIPPED, S.CANCELLED},
    S.COMPLETED: set(),
    S.SKIPPED: set(),
    S.CANCELLED: set(),
}
STEP_DONE = {S.COMPLETED, S.SKIPPED, S.CANCELLED}
STEP_OPEN = {S.PENDING, S.QUEUED, S.RUNNING, S.WAITING, S.FAILED}
RESERVED_KEYS = {"input", "record", "run"}
MAX_PASSES = 10_000


# Errors a person can read ------------------------------------------------------------------


class EngineError(Exception):
    """A request the engine refuses; str() is a sentence for a business user."""


class RunNotFound(EngineError):
    def __init__(self):
        super().__init__("This run no longer exists.")


class StepNotFound(EngineError):
    def __init__(self):
        super().__init__("This step no longer exists.")


class OrchestrationNotFound(EngineError):
    pass


class RunNotActive(EngineError):
    def __init__(self, run: Run):
        self.run = run
        when = said_when(run.finished_at)
        super().__init__(f"This run was already {run.get_status_display().lower()} {when}.")


class StepNotWaiting(EngineError):
    """The step is not waiting for anyone: someone got there first, or it was stopped."""

    def __init__(self, step_run: StepRun, who: str | None = None):
        self.step_run = step_run
        when = said_when(step_run.finished_at)
        status = step_run.status
        if status == S.COMPLETED:
            message = f"Already completed by {who or 'someone else'} {when}."
        elif status == S.SKIPPED:
            message = f"This step was skipped {when}."
        elif status == S.CANCELLED:
            message = f"This step was cancelled {when}."
        elif status == S.FAILED:
            message = "This step has failed; an operator must retry or skip it."
        else:
            message = "This step is not waiting for an answer right now."
        super().__init__(message)


class StepNotRetryable(EngineError):
    pass


class CompletionRefused(EngineError):
    """The step's kind refused the person (e.g. the work item was reassigned meanwhile)."""


def _user_label(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


# Reads of the hot path, compiled once per process ------------------------------------------


# The version a launch runs: parameters (orchestration key, "active"), in this order.
_ACTIVE_VERSION = rows.PreparedSelect(
    lambda: OrchestrationVersion.objects.filter(orchestration__key="").filter(
        status=OrchestrationVersion.Status.ACTIVE
    ),
    (OrchestrationVersion,),
)


# PostgreSQL: the lock and the read in one statement, and the take of an attempt and the read
# in one statement, by the functions of runs/migrations/0004_lock_run_function.py and
# 0006_take_attempt_function.py: one round trip each instead of two.
def _sql_functions() -> bool:
    return connection.vendor == "postgresql"


_LOCKED_RUN = rows.FunctionRows(
    "runs_lock_run",
    2,
    (("run_row", Run), ("stage_run_row", StageRun), ("step_run_row", StepRun)),
)
_TAKE_ATTEMPT = rows.FunctionRows(
    "runs_take_attempt", 6, (("run_row", Run), ("step_run_row", StepRun))
)

# Other backends (SQLite, whose transactions are serialised): the same, statement by
# statement. The read of a locked run filters both sides by the run, so that the planner
# reads each through its run_id index (with the join condition alone it hashed a sequential
# scan of stage runs).
_LOCK_RUN = rows.PreparedSelect(
    lambda: Run.objects.select_for_update(of=("self",)).filter(pk=0), (Run,)
)
_LOCK_RUN_SKIP_LOCKED = rows.PreparedSelect(
    lambda: Run.objects.select_for_update(of=("self",), skip_locked=True).filter(pk=0), (Run,)
)
_STEP_RUNS_OF_RUN = rows.PreparedSelect(
    lambda: (
        StepRun.objects.filter(run_id=0, stage_run__run_id=0)
        .select_related("stage_run")
        .order_by("id")
    ),
    (StepRun, StageRun),
)
_STEP_RUNS_WITH_RUN = rows.PreparedSelect(
    lambda: StepRun.objects.filter(run_id=0).select_related("run").order_by("id"),
    (StepRun, Run),
)


# The state of one run, loaded under its lock ------------------------------------------------


class _RunState:
    """A locked run with its stage runs and step runs, changed in memory, written by flush()."""

    def __init__(self, run: Run, plan: VersionPlan, stage_runs, step_runs, now):
        self.run = run
        self.plan = plan
        self.now = now
        self.stage_runs: list[StageRun] = list(stage_runs)
        self.step_runs: list[StepRun] = list(step_runs)
        self._new: list[models.Model] = []
        self._dirty_steps: dict[int, set[str]] = {}
        self._dirty_stages: dict[int, set[str]] = {}
        self._dirty_run: set[str] = set()
        self._events: list[RunEvent] = []
        self._starts: list[StepStart] = []
        self._cancelled: list[StepRun] = []
        self._data: dict[str, Any] | None = None

    @classmethod
    def lock(cls, run_id: int, *, skip_locked: bool = False) -> "_RunState | None":
        """Lock the run row, then read its stage runs and step runs (after the lock, so that
        they are current). With skip_locked, None when another transaction holds the run."""
        assert connection.in_atomic_block
        if _sql_functions():
            found = _LOCKED_RUN.fetch(run_id, skip_locked)
            pairs = [(step_run, stage_run) for _, stage_run, step_run in found if step_run]
        else:
            found = (_LOCK_RUN_SKIP_LOCKED if skip_locked else _LOCK_RUN).fetch(run_id)
            pairs = _STEP_RUNS_OF_RUN.fetch(run_id, run_id) if found else []
        if not found:
            if skip_locked:
                return None
            raise RunNotFound()
        run = found[0][0]
        step_runs = []
        stage_runs: dict[int, StageRun] = {}
        for step_run, stage_run in pairs:
            step_run.run = run
            step_run.stage_run = stage_runs.setdefault(stage_run.pk, stage_run)
            step_runs.append(step_run)
        step_runs.sort(key=lambda step_run: step_run.id)
        ordered = sorted(stage_runs.values(), key=lambda stage_run: stage_run.id)
        return cls(run, load_plan(run.version_id), ordered, step_runs, timezone.now())

    # Reading ---------------------------------------------------------------------------

    def step_run(self, step_run_id: int) -> StepRun:
        for step_run in self.step_runs:
            if step_run.pk == step_run_id:
                return step_run
        raise StepNotFound()

    def steps_of(self, stage_run: StageRun) -> list[StepRun]:
        return [sr for sr in self.step_runs if sr.stage_run is stage_run]

    def active_stage_run(self) -> StageRun | None:
        for stage_run in self.stage_runs:
            if stage_run.status == G.ACTIVE:
                return stage_run
        return None

    def latest_stage_run(self, stage_id: int) -> StageRun | None:
        found = None
        for stage_run in self.stage_runs:
            if stage_run.stage_id == stage_id:
                found = stage_run
        return found

    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = run_data(self.run, self.step_runs, self.plan)
        return self._data

    # Changing --------------------------------------------------------------------------

    def move(self, step_run: StepRun, to: str, **fields) -> None:
        if to not in STEP_TRANSITIONS[step_run.status]:
            raise AssertionError(
                f"step run {step_run.pk}: {step_run.status} -> {to} is not allowed"
            )
        step_run.status = to
        for name, value in fields.items():
            setattr(step_run, name, value)
        if to in STEP_DONE or to == S.FAILED:
            step_run.finished_at = self.now
        if to == S.COMPLETED:
            self._data = None
        if step_run.pk:
            self._dirty_steps.setdefault(id(step_run), set()).update(
                {"status", "finished_at", *fields}
            )
        if to in (S.SKIPPED, S.CANCELLED) and step_run.pk:
            self._cancelled.append(step_run)

    def set_stage(self, stage_run: StageRun, to: str) -> None:
        stage_run.status = to
        fields = {"status"}
        if to == G.ACTIVE:
            stage_run.started_at = self.now
            stage_run.finished_at = None
            fields |= {"started_at", "finished_at"}
        elif to != G.PENDING:
            stage_run.finished_at = self.now
            fields.add("finished_at")
        if stage_run.pk:
            self._dirty_stages.setdefault(id(stage_run), set()).update(fields)

    def set_run(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.run, name, value)
        self._dirty_run.update(fields)

    def event(self, kind: str, *, step_run: StepRun | None = None, actor=None, **data) -> None:
        self._events.append(
            rows.new(
                RunEvent,
                run=self.run,
                step_run=step_run,
                kind=kind,
                actor=actor,
                data=data,
                created_at=self.now,
            )
        )

    def new_stage_run(self, stage_plan: StagePlan, iteration: int) -> StageRun:
        stage_run = rows.new(StageRun, run=self.run, stage=stage_plan.stage, iteration=iteration)
        self.stage_runs.append(stage_run)
        self._new.append(stage_run)
        for step in stage_plan.steps:
            step_run = rows.new(
                StepRun,
                run=self.run,
                stage_run=stage_run,
                step=step,
                created_at=self.now,
            )
            self.step_runs.append(step_run)
            self._new.append(step_run)
        return stage_run

    def start_later(self, start: StepStart) -> None:
        self._starts.append(start)

    def flush(self, *, commit: bool = False) -> None:
        """Write everything changed: new rows in bulk, then one update per table, then let
        the kinds start and cancel their step runs, then the events. Pipelined: only the
        inserts whose new keys later rows refer to wait for an answer. With commit=True, the
        last thing in the atomic block, the COMMIT goes with the writes (rows.py says when)."""
        assert connection.in_atomic_block
        with rows.pipeline():
            if self._dirty_run:
                rows.update([self.run], {id(self.run): self._dirty_run})
            rows.insert([obj for obj in self._new if isinstance(obj, StageRun)])
            rows.insert([obj for obj in self._new if isinstance(obj, StepRun)])
            self._new.clear()
            rows.update(self.stage_runs, self._dirty_stages)
            rows.update(self.step_runs, self._dirty_steps)
            by_kind: dict[str, list[StepStart]] = {}
            for start in self._starts:
                by_kind.setdefault(start.step.kind, []).append(start)
            for kind_name, starts in by_kind.items():
                get_kind(kind_name).start(starts)
            self._starts.clear()
            cancelled: dict[str, list[StepRun]] = {}
            for step_run in self._cancelled:
                kind_name = self.plan.steps[step_run.step_id].kind
                cancelled.setdefault(kind_name, []).append(step_run)
            for kind_name, step_runs in cancelled.items():
                get_kind(kind_name).cancel(step_runs, self.now)
            self._cancelled.clear()
            rows.insert(self._events, keys=False)
            if commit:
                rows.commit_in_pipeline()
        self._events.clear()


# Run data ----------------------------------------------------------------------------------


def run_data(run: Run, step_runs: Iterable[StepRun], plan: VersionPlan) -> dict[str, Any]:
    """What expressions and templates see: input, record, run, and each step's outputs under
    its key (the latest completed step run; {} for a step that has not completed)."""
    context = run.context or {}
    data: dict[str, Any] = {
        "input": context.get("input", {}),
        "record": context.get("record", {}),
        "run": {"id": run.pk, "started_by": context.get("started_by", "")},
    }
    for step in plan.steps.values():
        data[step.key] = {}
    for step_run in sorted(step_runs, key=lambda sr: sr.pk or 0):
        if step_run.status == S.COMPLETED:
            data[plan.steps[step_run.step_id].key] = step_run.outputs
    return data


def _record_snapshot(record) -> dict[str, Any]:
    snapshot = model_to_dict(record)
    snapshot["id"] = record.pk
    snapshot["label"] = str(record)
    return _jsonable(snapshot)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return value.pk
    try:
        return _ENCODER.default(value)  # dates, times, decimals, UUIDs
    except TypeError:
        return str(value)


_ENCODER = DjangoJSONEncoder()


# Advancing ---------------------------------------------------------------------------------


def _advance(state: _RunState) -> None:
    """Start what is ready and finish what is done, until nothing changes (a loop, not
    recursion: a skipped step can make the next one ready at once)."""
    assert connection.in_atomic_block
    for _ in range(MAX_PASSES):
        if state.run.status != R.RUNNING:
            return
        stage_run = state.active_stage_run()
        if stage_run is None or not _progress_stage(state, stage_run):
            return
    raise RuntimeError(f"run {state.run.pk} did not settle after {MAX_PASSES} passes")


def _progress_stage(state: _RunState, stage_run: StageRun) -> bool:
    stage_plan = state.plan.stage_by_id[stage_run.stage_id]
    step_runs = state.steps_of(stage_run)
    if any(sr.status == S.FAILED for sr in step_runs):
        return False
    exit_condition = stage_plan.stage.exit_condition
    if exit_condition.strip() and _exit_condition_holds(state, stage_plan):
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


def _exit_condition_holds(state: _RunState, stage_plan: StagePlan) -> bool:
    """An exit condition that reads answers not given yet is simply not true yet."""
    try:
        return condition_holds(stage_plan.stage.exit_condition, state.data())
    except MissingData:
        return False
    except ExpressionError as exc:
        _fail_run(
            state, f'Could not evaluate the exit condition of "{stage_plan.stage.label}": {exc}'
        )
        return False


def _condition(state: _RunState, source: str, what: str) -> bool:
    """Evaluate a condition; an error fails the run with a sentence saying where."""
    try:
        return condition_holds(source, state.data())
    except ExpressionError as exc:
        _fail_run(state, f"Could not evaluate {what}: {exc}")
        return False


def _start_step(state: _RunState, step_run: StepRun) -> None:
    step = state.plan.steps[step_run.step_id]
    if step.entry_condition.strip() and not _condition(
        state, step.entry_condition, f'the entry condition of "{step.label}"'
    ):
        if state.run.status == R.RUNNING:
            state.move(step_run, S.SKIPPED)
            state.event("step.skipped", step_run=step_run, reason="entry condition is false")
        return
    kind = get_kind(step.kind)
    start = StepStart(run=state.run, step_run=step_run, step=step, data=state.data(), now=state.now)
    try:
        start.prepared = kind.prepare(start)
    except StepCannotStart as exc:
        state.move(step_run, S.FAILED, error=str(exc))
        state.event("step.failed", step_run=step_run, error=str(exc))
        _fail_run(state, str(exc), stage_run=step_run.stage_run)
        return
    state.move(step_run, kind.start_status, started_at=state.now)
    state.start_later(start)
    state.event("step.started", step_run=step_run)


def _finish_stage(state: _RunState, stage_run: StageRun, stage_plan: StagePlan) -> None:
    state.set_stage(stage_run, G.COMPLETED)
    state.event("stage.completed", stage=stage_plan.stage.key, iteration=stage_run.iteration)
    for route in stage_plan.routes:
        if route.condition.strip() and not _condition(
            state, route.condition, f'a route of "{stage_plan.stage.label}"'
        ):
            if state.run.status != R.RUNNING:
                return
            continue
        if route.action == StageRoute.Action.END:
            _finish_run(state, R.COMPLETED, outcome=route.outcome or "completed")
            return
        target = state.plan.stage_by_id[route.target_stage_id]
        if target.index <= stage_plan.index:
            repeats = sum(1 for sr in state.stage_runs if sr.stage_id == target.id) - 1
            if repeats >= route.max_repeats:
                state.event(
                    "route.limit_reached",
                    stage=stage_plan.stage.key,
                    target=target.stage.key,
                    max_repeats=route.max_repeats,
                )
                continue
        state.event("route.taken", stage=stage_plan.stage.key, target=target.stage.key)
        _enter_stage(state, target)
        return
    _enter_stage(state, state.plan.stage_after(stage_plan.id))


def _enter_stage(state: _RunState, stage_plan: StagePlan | None) -> None:
    """Enter the stage (a new iteration if it ran before); a stage whose entry condition is
    false is skipped and the next one in order is entered, until one is active or the run
    ends."""
    while stage_plan is not None:
        stage_run = state.latest_stage_run(stage_plan.id)
        if stage_run is None or stage_run.status != G.PENDING:
            iteration = stage_run.iteration + 1 if stage_run else 1
            stage_run = state.new_stage_run(stage_plan, iteration)
        entry = stage_plan.stage.entry_condition
        if entry.strip() and not _condition(
            state, entry, f'the entry condition of "{stage_plan.stage.label}"'
        ):
            if state.run.status != R.RUNNING:
                return
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
    _finish_run(state, R.COMPLETED, outcome="completed")


def _close_open_rows(state: _RunState, step_status: str, stage_status: str) -> None:
    for step_run in state.step_runs:
        if step_run.status in STEP_OPEN and step_run.status != S.FAILED:
            state.move(step_run, step_status)
    for stage_run in state.stage_runs:
        if stage_run.status in (G.PENDING, G.ACTIVE):
            state.set_stage(stage_run, stage_status)


def _finish_run(state: _RunState, status: str, *, outcome: str = "", actor=None, **data) -> None:
    _close_open_rows(
        state,
        S.SKIPPED if status == R.COMPLETED else S.CANCELLED,
        G.SKIPPED if status == R.COMPLETED else G.CANCELLED,
    )
    state.set_run(status=status, outcome=outcome, finished_at=state.now)
    state.event(f"run.{status}", actor=actor, outcome=outcome, **data)
    if state.run.parent_step_run_id:
        parent_step_run_id = state.run.parent_step_run_id
        transaction.on_commit(lambda: resume_parent(step_run_id=parent_step_run_id), robust=True)


def _fail_run(state: _RunState, error: str, *, stage_run: StageRun | None = None) -> None:
    if stage_run is not None:
        state.set_stage(stage_run, G.FAILED)
    state.set_run(status=R.FAILED, finished_at=state.now)
    state.event("run.failed", error=error)
    if state.run.parent_step_run_id:
        parent_step_run_id = state.run.parent_step_run_id
        transaction.on_commit(lambda: resume_parent(step_run_id=parent_step_run_id), robust=True)


# Launching ---------------------------------------------------------------------------------


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
    found = _ACTIVE_VERSION.fetch(orchestration_key, OrchestrationVersion.Status.ACTIVE)
    if not found:
        if not Orchestration.objects.filter(key=orchestration_key).exists():
            raise OrchestrationNotFound(f'There is no orchestration "{orchestration_key}".')
        raise OrchestrationNotFound(
            f'The orchestration "{orchestration_key}" has no active version to run.'
        )
    with transaction.atomic():
        ((version,),) = found
        state = _new_run(
            load_plan(version.pk),
            inputs=inputs,
            record=record,
            started_by=started_by,
            title=title,
        )
        _advance(state)
        state.flush(commit=True)
    return state.run


def _new_run(plan, *, inputs, record, started_by, title, parent_step_run=None) -> _RunState:
    now = timezone.now()
    context: dict[str, Any] = {"input": _jsonable(inputs or {})}
    if started_by is not None:
        context["started_by"] = started_by.get_username()
    run = rows.new(
        Run,
        version=plan.version,
        orchestration_id=plan.version.orchestration_id,
        status=R.RUNNING,
        context=context,
        started_by=started_by,
        started_at=now,
        parent_step_run=parent_step_run,
        title=title[:200],
    )
    if record is not None:
        run.record_type = ContentType.objects.get_for_model(record)
        run.record_id = str(record.pk)
        context["record"] = _record_snapshot(record)
        run.title = run.title or str(record)[:200]
    rows.insert([run])
    state = _RunState(run, plan, [], [], now)
    state.event("run.started", actor=started_by, inputs=context["input"])
    for stage_plan in plan.stages:
        state.new_stage_run(stage_plan, 1)
    _enter_stage(state, plan.stages[0] if plan.stages else None)
    return state


# Completing interactive steps ----------------------------------------------------------------


def complete_step(*, run_id: int, step_run_id: int, outputs: dict[str, Any], user) -> StepRun:
    """Complete a waiting step run with a person's answers, then advance the run. The caller
    has checked that `user` may; this checks that the step is still waiting."""
    with transaction.atomic():
        state = _RunState.lock(run_id)
        step_run = state.step_run(step_run_id)
        if step_run.status != S.WAITING:
            raise StepNotWaiting(step_run, _user_label(_completed_by(step_run)))
        if state.run.status != R.RUNNING:
            raise RunNotActive(state.run)
        outputs = _jsonable(outputs)
        state.move(step_run, S.COMPLETED, outputs=outputs, completed_by=user)
        step = state.plan.steps[step_run.step_id]
        try:
            get_kind(step.kind).completed(step_run, user, state.now)
        except StepRefused as exc:
            raise CompletionRefused(str(exc)) from exc
        state.event("step.completed", step_run=step_run, actor=user)
        if step.creates_record_id:
            _create_record(state, step, outputs)
        _advance(state)
        state.flush(commit=True)
    return step_run


def _completed_by(step_run: StepRun):
    if step_run.completed_by_id is None:
        return None
    return step_run.completed_by


def _create_record(state: _RunState, step: Step, outputs: dict[str, Any]) -> None:
    """Create the step's record from the answers (fields matched by name) and relate it."""
    model = step.creates_record.model_class()
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name not in outputs:
            continue
        value = outputs[field.name]
        if value in ("", None) and field.null:
            value = None
        values[field.attname if field.is_relation else field.name] = value
    record = model.objects.create(**values)
    context = dict(state.run.context)
    context["record"] = _record_snapshot(record)
    state.set_run(
        record_type=step.creates_record,
        record_id=str(record.pk),
        context=context,
        title=str(record)[:200],
    )
    state.event("record.created", model=model._meta.label, id=record.pk)


# Background steps ----------------------------------------------------------------------------


@dataclass
class _Attempt:
    run: Run
    step_run: StepRun
    step: Step
    data: dict[str, Any]


def execute_attempt(*, run_id: int, step_run_id: int, attempt: int) -> None:
    """What a worker does with one message: take the attempt (queued -> running), run the
    action outside any lock, record the result. A redelivered message takes nothing."""
    taken = _take_attempt(run_id=run_id, step_run_id=step_run_id, attempt=attempt)
    if taken is None:
        return
    outcome: Any
    error = tb = ""
    try:
        action = get_action(taken.step.action)
        if action is None:
            raise LookupError(f'No action "{taken.step.action}" is installed.')
        params = resolve_value(taken.step.parameters or {}, taken.data)
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
    )


def _take_attempt(*, run_id: int, step_run_id: int, attempt: int) -> _Attempt | None:
    """queued -> running for this attempt, in its own short transaction (one conditional
    UPDATE), then read the run's data; None when the step run has moved on (a duplicate or
    stale message)."""
    now = timezone.now()
    if _sql_functions():
        found = _TAKE_ATTEMPT.fetch(run_id, step_run_id, attempt, now, S.QUEUED, S.RUNNING)
        if not found:
            return None
        run = found[0][0]
        step_runs = [step_run for _, step_run in found]
    else:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(StepRun._meta.db_table)} SET status = %s, attempts = %s, "
                "started_at = %s WHERE id = %s AND run_id = %s AND status = %s AND attempts = %s",
                [
                    S.RUNNING,
                    attempt,
                    connection.ops.adapt_datetimefield_value(now),
                    step_run_id,
                    run_id,
                    S.QUEUED,
                    attempt - 1,
                ],
            )
            if cursor.rowcount != 1:
                return None
        found = _STEP_RUNS_WITH_RUN.fetch(run_id)
        run = found[0][1]
        step_runs = [step_run for step_run, _ in found]
    plan = load_plan(run.version_id)
    step_run = next(sr for sr in step_runs if sr.pk == step_run_id)
    return _Attempt(
        run=run,
        step_run=step_run,
        step=plan.steps[step_run.step_id],
        data=run_data(run, step_runs, plan),
    )


def record_attempt(
    *,
    run_id: int,
    step_run_id: int,
    attempt: int,
    outcome: Any = None,
    error: str = "",
    traceback: str = "",
) -> None:
    """Record what an attempt of a background step gave: outputs, a wait, a child run, or an
    error (retried with back-off up to the step's limit, then the run fails)."""
    with transaction.atomic():
        state = _RunState.lock(run_id)
        step_run = state.step_run(step_run_id)
        if step_run.status != S.RUNNING or step_run.attempts != attempt:
            return  # A stale result: the step was skipped, cancelled or timed out meanwhile.
        step = state.plan.steps[step_run.step_id]
        if error:
            _attempt_failed(state, step_run, step, error, traceback)
        elif isinstance(outcome, Suspend):
            state.move(
                step_run, S.WAITING, outputs=_jsonable(outcome.outputs), timer_due_at=outcome.until
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
                        **_jsonable(outcome.record_fields),
                    }
                    state.set_run(context=context)
                outcome = outcome.outputs
            outputs = _jsonable(outcome if isinstance(outcome, dict) else {"result": outcome})
            state.move(step_run, S.COMPLETED, outputs=outputs, error="", traceback="")
            state.event("step.completed", step_run=step_run, attempt=attempt)
        _advance(state)
        state.flush(commit=True)


def _attempt_failed(state: _RunState, step_run: StepRun, step: Step, error: str, tb: str) -> None:
    attempt = step_run.attempts
    if attempt <= step.max_retries:
        delay = step.retry_backoff_seconds * (2 ** (attempt - 1))
        next_at = state.now + datetime.timedelta(seconds=delay)
        state.move(
            step_run,
            S.QUEUED,
            error=error,
            traceback=tb,
            next_attempt_at=next_at,
            dispatched_at=next_at,
        )
        state.event(
            "step.attempt_failed", step_run=step_run, attempt=attempt, error=error, retry_in=delay
        )
        dispatch(step_run, countdown=delay)
        return
    state.move(step_run, S.FAILED, error=error, traceback=tb)
    state.event("step.failed", step_run=step_run, attempt=attempt, error=error)
    _fail_run(
        state,
        f'"{step.label}" failed after {attempt} attempts: {error}',
        stage_run=step_run.stage_run,
    )


def _launch_child(state: _RunState, step_run: StepRun, launch_child: LaunchChild) -> None:
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
    # Lock order: the parent is locked; the child is new, so nothing else can hold it.
    child = _new_run(
        load_plan(version.pk),
        inputs=launch_child.inputs,
        record=None,
        started_by=state.run.started_by,
        title=f"{state.run.title or state.run.pk}: {step.label}",
        parent_step_run=step_run,
    )
    _advance(child)
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
    with transaction.atomic():
        state = _RunState.lock(parent_run_id)
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
            _fail_run(state, error, stage_run=step_run.stage_run)
        _advance(state)
        state.flush(commit=True)


def fire_timer(*, run_id: int, step_run_id: int) -> bool:
    """Complete a waiting step whose timer is due (the `wait` action). False if the run is
    locked by someone else right now, or the timer is not due: the next sweep tries again."""
    with transaction.atomic():
        state = _RunState.lock(run_id, skip_locked=True)
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
        _advance(state)
        state.flush(commit=True)
    return True


def time_out_attempt(*, run_id: int, step_run_id: int, attempt: int, error: str) -> bool:
    """A running attempt whose worker stopped answering counts as failed (and is retried
    within the step's limit). False if the run is locked right now or the attempt moved on."""
    with transaction.atomic():
        state = _RunState.lock(run_id, skip_locked=True)
        if state is None:
            return False
        step_run = state.step_run(step_run_id)
        if step_run.status != S.RUNNING or step_run.attempts != attempt:
            return False
        _attempt_failed(state, step_run, state.plan.steps[step_run.step_id], error, "")
        _advance(state)
        state.flush(commit=True)
    return True


# Operator actions --------------------------------------------------------------------------


def _run_id_of(step_run_id: int) -> int:
    run_id = StepRun.objects.filter(pk=step_run_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise StepNotFound()
    return run_id


def retry_step(*, step_run_id: int, user, reason: str = "") -> StepRun:
    """Retry a failed step: it starts again (a background step from its first attempt) and
    the run is running again."""
    with transaction.atomic():
        state = _RunState.lock(_run_id_of(step_run_id))
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
        _advance(state)
        state.flush(commit=True)
    return step_run


def skip_step(*, step_run_id: int, user, reason: str = "") -> StepRun:
    """Skip a step that has not finished (its work item is cancelled; a running action's
    result will be ignored), then advance the run."""
    with transaction.atomic():
        state = _RunState.lock(_run_id_of(step_run_id))
        step_run = state.step_run(step_run_id)
        if step_run.status not in STEP_OPEN:
            raise StepNotWaiting(step_run, _user_label(_completed_by(step_run)))
        if state.run.status not in (R.RUNNING, R.FAILED):
            raise RunNotActive(state.run)
        state.move(step_run, S.SKIPPED)
        _reopen(state, step_run)
        state.event("step.skipped", step_run=step_run, actor=user, reason=reason)
        _advance(state)
        state.flush(commit=True)
    return step_run


def _reopen(state: _RunState, step_run: StepRun) -> None:
    """After an operator repaired a step of a failed run: the run and its stage go on."""
    if state.run.status == R.FAILED and not any(
        sr.status == S.FAILED for sr in state.step_runs if sr is not step_run
    ):
        state.set_run(status=R.RUNNING, finished_at=None)
        state.set_stage(step_run.stage_run, G.ACTIVE)
        state.event("run.resumed")


def cancel_run(*, run_id: int, user, reason: str = "") -> Run:
    """Cancel a running or failed run: its open steps and work items are cancelled."""
    with transaction.atomic():
        state = _RunState.lock(run_id)
        if state.run.status not in (R.RUNNING, R.FAILED):
            raise RunNotActive(state.run)
        for step_run in state.step_runs:
            if step_run.status == S.FAILED:
                state.move(step_run, S.CANCELLED)
        _finish_run(state, R.CANCELLED, actor=user, reason=reason)
        state.flush()
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
    event = rows.new(
        RunEvent,
        run_id=run_id,
        step_run_id=step_run_id,
        kind=kind,
        actor=actor,
        data=_jsonable(data),
        created_at=timezone.now(),
    )
    rows.insert([event])
    return event
