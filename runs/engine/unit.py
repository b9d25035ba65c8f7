"""The unit of work: one transaction that locks a run, reads it, changes it in memory, and
writes and commits it on exit.

    with run_transaction(run_id) as state:   # atomic + lock + read
        ...guards and changes...             # on exit: flush + commit

Every engine function that changes a run enters through `run_transaction()` (or
`new_run_transaction()` for a launch). Two users, two workers, or a user and a worker acting
on one run at once are serialised by the run's row lock; the loser sees the new state. The
one lock order is parent run before child run: a child run only reaches its parent after its
own transaction has committed (`transaction.on_commit`).

Within the block the state is worked on in memory; the exit writes it once: new rows in
bulk, changed rows in one update per table, the rows the step kinds add, the events. The
writes and the commit are the last thing the block does: nothing of the caller's can run
between them. Exceptions roll everything back.

On PostgreSQL, with settings.ENGINE_FAST_PATH on (the default), the same happens in fewer
round trips and less CPU (runs/engine/sql.py, runs/engine/begin.py say how and what each
part is worth); with it off, or on SQLite, the unit of work uses plain Django: atomic(),
select_for_update(), bulk_create() and bulk_update().
"""

import contextlib
import datetime
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Q
from django.utils import timezone

from orchestrator.models import OrchestrationVersion
from orchestrator.plan import StagePlan, VersionPlan, load_plan
from runs.engine import sql
from runs.engine.begin import CarryBegin
from runs.engine.data import run_data
from runs.engine.errors import RunNotFound, StepNotFound
from runs.engine.states import STEP_DONE, S, allowed_from, check_move, check_run_move
from runs.kinds import StepStart, get_kind
from runs.listeners import registered_listeners
from runs.models import Run, RunEvent, StageRun, StepRun

G = StageRun.Status


def fast_path(db=None) -> bool:
    """Whether the engine takes its fast path on this connection: PostgreSQL, and the
    setting on."""
    db = db or connections[DEFAULT_DB_ALIAS]
    return db.vendor == "postgresql" and getattr(settings, "ENGINE_FAST_PATH", True)


# PostgreSQL: the lock and the read in one statement (runs/migrations/0004_lock_run_function).
_LOCKED_RUN = sql.FunctionRows(
    "runs_lock_run",
    ("run_id", "skip_locked"),
    (("run_row", Run), ("stage_run_row", StageRun), ("step_run_row", StepRun)),
)


# PostgreSQL: the take of an attempt and the read of its run in one statement
# (runs/migrations/0007_take_attempt_when_due).
_TAKE_ATTEMPT = sql.FunctionRows(
    "runs_take_attempt",
    ("run_id", "step_run_id", "attempt", "now", "due_by", "from_statuses", "to_status"),
    (("run_row", Run), ("step_run_row", StepRun)),
)
# A retry's message may arrive a moment before its time (the broker's countdown and the
# database's clock are not one clock): it is taken if due within this margin.
DUE_MARGIN = datetime.timedelta(seconds=1)


def take_attempt(*, run_id: int, step_run_id: int, attempt: int):
    """Move a background step run from queued to running for this attempt, in its own short
    transaction (one conditional UPDATE), and read its run and the run's step runs: (run,
    step runs), or None when nothing matched: a duplicate or stale message (the step run
    has moved on), or a retry that is not due yet (`next_attempt_at`)."""
    db = connections[DEFAULT_DB_ALIAS]
    now = timezone.now()
    if fast_path(db):
        found = _TAKE_ATTEMPT.fetch(
            db,
            run_id=run_id,
            step_run_id=step_run_id,
            attempt=attempt,
            now=now,
            due_by=now + DUE_MARGIN,
            from_statuses=list(allowed_from(S.RUNNING)),
            to_status=S.RUNNING,
        )
        if not found:
            return None
        return found[0][0], [step_run for _, step_run in found]
    taken = (
        StepRun.objects.filter(
            pk=step_run_id, run_id=run_id, status__in=allowed_from(S.RUNNING), attempts=attempt - 1
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_MARGIN))
        .update(status=S.RUNNING, attempts=attempt, started_at=now)
    )
    if not taken:
        return None
    step_runs = list(StepRun.objects.filter(run_id=run_id).select_related("run").order_by("id"))
    return step_runs[0].run, step_runs


def active_version_id(orchestration_key: str) -> int | None:
    """The id of the orchestration's active version: the one a launch runs."""
    db = connections[DEFAULT_DB_ALIAS]
    if fast_path(db):
        return sql.active_version_id(db, orchestration_key)
    return (
        OrchestrationVersion.objects.filter(
            orchestration__key=orchestration_key, status=OrchestrationVersion.Status.ACTIVE
        )
        .values_list("pk", flat=True)
        .first()
    )


class _Transaction:
    """transaction.atomic() for one engine transition, and on the fast path what makes it
    cheaper: the BEGIN carried by the first statement, the COMMIT sent with the last writes.
    Both apply only to an outermost block entered in autocommit mode; inside another atomic
    block (a test's, a parent run's) the block is a savepoint as usual."""

    def __init__(self):
        self.db = connections[DEFAULT_DB_ALIAS]
        self.fast = fast_path(self.db)
        self._stack = contextlib.ExitStack()
        self.outermost = False

    def __enter__(self) -> "_Transaction":
        self.outermost = not self.db.in_atomic_block and self.db.get_autocommit()
        stack = self._stack.__enter__()
        stack.enter_context(transaction.atomic())
        if self.fast and self.outermost:
            stack.enter_context(self.db.execute_wrapper(CarryBegin()))
        return self

    def __exit__(self, *exc_info):
        return self._stack.__exit__(*exc_info)

    def finish(self, state: "RunState") -> None:
        """Write what changed; on the fast path the COMMIT goes with the writes when this is
        the outermost block and nothing asked for a rollback. Django's own commit at the end
        of the block then finds nothing to commit, and runs the on_commit callbacks."""
        commit = self.fast and self.outermost and not transaction.get_rollback()
        state._flush(commit=commit)


@contextlib.contextmanager
def run_transaction(run_id: int, *, skip_locked: bool = False) -> Iterator["RunState | None"]:
    """Lock the run and read it; write and commit on exit. With skip_locked, the state is
    None when another transaction holds the run (the caller tries again later)."""
    with _Transaction() as tx:
        state = RunState.lock(tx.db, run_id, skip_locked=skip_locked, fast=tx.fast)
        yield state
        if state is not None:
            tx.finish(state)


@contextlib.contextmanager
def new_run_transaction(plan: VersionPlan, **launch) -> Iterator["RunState"]:
    """A new run of the plan (RunState.new_run() says what it takes); written and committed
    on exit."""
    with _Transaction() as tx:
        state = RunState.new_run(tx.db, plan, fast=tx.fast, **launch)
        yield state
        tx.finish(state)


class RunState:
    """A locked run with its stage runs and step runs, changed in memory, written by flush()."""

    def __init__(self, db, run: Run, plan: VersionPlan, stage_runs, step_runs, *, fast: bool):
        self.db = db
        self.fast = fast
        self.run = run
        self.plan = plan
        self.now = timezone.now()
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

    # Loading ---------------------------------------------------------------------------

    @classmethod
    def lock(cls, db, run_id: int, *, skip_locked: bool, fast: bool) -> "RunState | None":
        """Lock the run row, then read its stage runs and step runs (after the lock, so that
        they are current). With skip_locked, None when another transaction holds the run."""
        assert db.in_atomic_block
        if fast:
            found = _LOCKED_RUN.fetch(db, run_id=run_id, skip_locked=skip_locked)
            run = found[0][0] if found else None
            stage_runs: dict[int, StageRun] = {}
            step_runs = []
            for _, stage_run, step_run in found:
                if step_run is not None:
                    step_run.run = run
                    step_run.stage_run = stage_runs.setdefault(stage_run.pk, stage_run)
                    step_runs.append(step_run)
            stage_list = sorted(stage_runs.values(), key=lambda stage_run: stage_run.pk)
        else:
            locking = Run.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            run = locking.filter(pk=run_id).first()
            stage_list = list(StageRun.objects.filter(run_id=run_id).order_by("id"))
            by_id = {stage_run.pk: stage_run for stage_run in stage_list}
            step_runs = list(StepRun.objects.filter(run_id=run_id).order_by("id"))
            for step_run in step_runs:
                step_run.run = run
                step_run.stage_run = by_id[step_run.stage_run_id]
        if run is None:
            if skip_locked:
                return None
            raise RunNotFound()
        for stage_run in stage_list:
            stage_run.run = run
        step_runs.sort(key=lambda step_run: step_run.pk)
        return cls(db, run, load_plan(run.version_id), stage_list, step_runs, fast=fast)

    @classmethod
    def new_run(cls, db, plan: VersionPlan, *, fast: bool, **fields) -> "RunState":
        """A new run of the plan, written at once (its id is what every other row refers to),
        with a stage run and step runs for every stage; the first stage is not entered yet."""
        now = timezone.now()
        values = {
            "started_at": now,
            "version": plan.version,
            "orchestration_id": plan.version.orchestration_id,
            "status": Run.Status.RUNNING,
            **fields,
        }
        run = sql.new(Run, **values) if fast else Run(**values)
        if fast:
            sql.insert(db, [run])
        else:
            run.save(force_insert=True)
        state = cls(db, run, plan, [], [], fast=fast)
        state.now = now
        for stage_plan in plan.stages:
            state.new_stage_run(stage_plan, 1)
        return state

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
        """Move the step run to `to` (a move of the state diagram, runs/engine/states.py),
        setting `fields` too."""
        check_move(step_run.pk, step_run.status, to)
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
            # A stage taken up again after an operator's retry keeps the time it started.
            stage_run.started_at = stage_run.started_at or self.now
            stage_run.finished_at = None
            fields |= {"started_at", "finished_at"}
        elif to != G.PENDING:
            stage_run.finished_at = self.now
            fields.add("finished_at")
        if stage_run.pk:
            self._dirty_stages.setdefault(id(stage_run), set()).update(fields)

    def set_run(self, **fields) -> None:
        """Set fields of the run; a new status must be a move of the run state diagram."""
        if "status" in fields:
            check_run_move(self.run.pk, self.run.status, fields["status"])
        for name, value in fields.items():
            setattr(self.run, name, value)
        self._dirty_run.update(fields)

    def set_outputs(self, step_run: StepRun, outputs: dict[str, Any]) -> None:
        """Replace a completed step run's outputs (an operator's correction); the run data
        is read anew."""
        step_run.outputs = outputs
        self._data = None
        if step_run.pk:
            self._dirty_steps.setdefault(id(step_run), set()).add("outputs")

    def event(self, kind: str, *, step_run: StepRun | None = None, actor=None, **data) -> None:
        self._events.append(
            self.new_row(
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
        stage_run = self.new_row(
            StageRun, run=self.run, stage=stage_plan.stage, iteration=iteration
        )
        self.stage_runs.append(stage_run)
        self._new.append(stage_run)
        for step in stage_plan.steps:
            step_run = self.new_row(
                StepRun, run=self.run, stage_run=stage_run, step=step, created_at=self.now
            )
            self.step_runs.append(step_run)
            self._new.append(step_run)
        return stage_run

    def start_later(self, start: StepStart) -> None:
        """Let the step's kind start the step run when the transaction's writes are made."""
        self._starts.append(start)

    def new_row(self, model: type[models.Model], **values) -> models.Model:
        """`model(**values)` for a row this transaction adds (the engine's own, and those a
        step kind's start() returns): on the fast path made without Model.__init__."""
        return sql.new(model, **values) if self.fast else model(**values)

    # Writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything changed, without committing: for a child run written in its
        parent's transaction. The unit of work writes (and commits) its own state on exit."""
        self._flush(commit=False)

    def _flush(self, *, commit: bool) -> None:
        """Write everything changed: new rows in bulk, one update per table, the rows the
        kinds add for the step runs they start, the kinds' cancellations, then the events.
        With commit (fast path only, at the end of the outermost block), the COMMIT goes
        with the writes: only _Transaction.finish() asks for it."""
        assert self.db.in_atomic_block
        if self.fast:
            with sql.Pipeline(self.db) as pipeline:
                self._write_fast(pipeline)
                if commit:
                    pipeline.write("COMMIT", None)
        else:
            self._write_plain()
        self._events.clear()

    def _write_fast(self, pipeline: sql.Pipeline) -> None:
        db = self.db
        if self._dirty_run:
            sql.update(db, [self.run], {id(self.run): self._dirty_run}, pipeline)
            self._dirty_run = set()
        # Step runs refer to their new stage runs' keys: these two wait for their answers.
        sql.insert(db, [obj for obj in self._new if isinstance(obj, StageRun)])
        sql.insert(db, [obj for obj in self._new if isinstance(obj, StepRun)])
        self._new.clear()
        sql.update(db, self.stage_runs, self._dirty_stages, pipeline)
        sql.update(db, self.step_runs, self._dirty_steps, pipeline)
        self._dirty_stages.clear()
        self._dirty_steps.clear()
        for rows in self._added_rows():
            sql.insert(db, rows, pipeline=pipeline)
        sql.insert(db, self._events, pipeline=pipeline)

    def _write_plain(self) -> None:
        if self._dirty_run:
            self.run.save(update_fields=sorted(self._dirty_run))
            self._dirty_run = set()
        StageRun.objects.bulk_create([obj for obj in self._new if isinstance(obj, StageRun)])
        StepRun.objects.bulk_create([obj for obj in self._new if isinstance(obj, StepRun)])
        self._new.clear()
        for objects, dirty in (
            (self.stage_runs, self._dirty_stages),
            (self.step_runs, self._dirty_steps),
        ):
            changed = [obj for obj in objects if id(obj) in dirty]
            if changed:
                fields = sorted(set().union(*(dirty[id(obj)] for obj in changed)))
                type(changed[0]).objects.bulk_update(changed, fields)
            dirty.clear()
        for rows in self._added_rows():
            type(rows[0]).objects.bulk_create(rows)
        RunEvent.objects.bulk_create(self._events)

    def _added_rows(self) -> Iterator[list[models.Model]]:
        """Let the kinds start and cancel their step runs (the step runs are written), and the
        run listeners hear this write's events (runs/listeners.py); yield the new rows they
        ask for, one list per model: one INSERT each, whoever asked."""
        by_model: dict[type, list[models.Model]] = {}
        by_kind: dict[str, list[StepStart]] = {}
        for start in self._starts:
            by_kind.setdefault(start.step.kind, []).append(start)
        self._starts = []
        for kind_name, starts in by_kind.items():
            for row in get_kind(kind_name).start(starts) or ():
                by_model.setdefault(type(row), []).append(row)
        self._cancel_in_kinds()
        for listener in registered_listeners():
            for row in listener.on_events(self, self._events) or ():
                by_model.setdefault(type(row), []).append(row)
        yield from by_model.values()

    def _cancel_in_kinds(self) -> None:
        cancelled: dict[str, list[StepRun]] = {}
        for step_run in self._cancelled:
            cancelled.setdefault(self.plan.steps[step_run.step_id].kind, []).append(step_run)
        self._cancelled = []
        for kind_name, step_runs in cancelled.items():
            get_kind(kind_name).cancel(step_runs, self.now)
