"""Step kinds: how a step run starts and stops. The engine asks; the kind does its part.

A kind is a small object registered under the Step.kind value. The `background` kind lives
here; the `interactive` kind lives in `workitems` and registers itself from its AppConfig, so
the engine never imports `workitems`. A new kind ("wait for an external event") is one new
module that subclasses StepKind and calls register_kind() from its app's ready().

The engine calls, inside the run's lock:
- `prepare(start)` while it advances, before anything is written: resolve what the start
  needs (an assignee, a due date; a new row made with `start.new_row(Model, ...)`),
  never one of `start.excluded` (separation of duties). Raise StepCannotStart with a
  sentence to fail the step.
- `start(starts)` once the step runs are written, with every step run this transaction
  starts: return the new rows to write with the transaction's writes (the engine inserts
  them in bulk; their ids are not read back), schedule side effects with
  transaction.on_commit.
- `completed(step_run, user, now)` when a waiting step run is completed by a person; raise
  StepRefused with a sentence if that person may no longer complete it.
- `cancel(step_runs, now)` when step runs are skipped or cancelled before finishing.

An operator repairing a stopped run asks the kind for `answers_form(plan, step_run, data)`:
a form to correct what a completed step run answered, validated as the first time; the
engine records the correction (runs/engine/operator.py) and the run page shows the form.

The pages of `runs` ask every registered kind about its own step runs, so that they never
name what a kind keeps (work items): whom a step waits for (`waiting_for`), the run page's
section for them (`run_page_section`), which runs a person took part in
(`participant_filter`) or are overdue (`overdue_filter`), and the rows `fill_run_history`
adds for them (`fill_history`). Each answers "nothing" by default.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Exists, Q

from runs.models import Run, StepRun


class StepCannotStart(Exception):
    """The step cannot start (say why in a sentence); the engine fails the step run. When the
    run data is the cause (a computed assignee), `reads` is the expression that read it: the
    engine adds which answers to correct."""

    def __init__(self, message: str, *, reads: str = ""):
        super().__init__(message)
        self.reads = reads


class StepRefused(Exception):
    """The kind refuses a completion (say why in a sentence); nothing is changed."""


class AnswersForm(Protocol):
    """A Django form a kind gives for correcting a step run's answers: it renders itself
    (`{{ form }}`) and, once valid, gives the outputs to keep."""

    def is_valid(self) -> bool: ...

    def answers(self) -> dict[str, Any]: ...


@dataclass
class StepStart:
    run: Run
    step_run: StepRun
    step: Any  # orchestrator.models.Step, with its related rows loaded by the plan
    data: dict[str, Any]
    now: datetime.datetime
    #: `new_row(Model, **values)` makes a new row for start() to return as the engine makes
    #: its own rows (on its fast path without Model.__init__'s per-field work).
    new_row: Callable[..., Any] = lambda model, **values: model(**values)
    prepared: Any = None
    # Separation of duties: who may not complete this step, by user id, with why
    # ("started this run"); empty for a step that excludes nobody (runs/duties.py).
    excluded: dict[int, str] = field(default_factory=dict)


class StepKind:
    #: The status a step run of this kind takes when it starts.
    start_status: str = StepRun.Status.WAITING

    def prepare(self, start: StepStart) -> Any:
        return None

    def start(self, starts: list[StepStart]) -> list[Any]:
        return []

    def completed(self, step_run: StepRun, user, now: datetime.datetime) -> None:
        pass

    def cancel(self, step_runs: list[StepRun], now: datetime.datetime) -> None:
        pass

    def answers_form(self, plan, step_run: StepRun, data=None) -> AnswersForm | None:
        """A form to correct the answers of this completed step run (`plan`: its version's
        plan), prefilled with its outputs, bound to `data` (the posted values) when given,
        validated like the form the person filled in. Its field names are prefixed by the
        step run, so that several share a page. None: nothing to correct (the default)."""
        return None

    # What the pages ask. The run pages and the dashboard know step runs only; whatever a
    # kind keeps beside them (the interactive kind's work items) they learn through these
    # methods, each given the kind's own step runs. They read, never write, and cost a fixed
    # number of queries whatever the number of step runs. The defaults answer "nothing".

    def waiting_for(self, step_runs: list[StepRun]) -> dict[int, str]:
        """Who each of these waiting step runs waits for, in words ("Ana", "the IT queue"),
        by step run id (the progress page's "Waiting for"). One query at most."""
        return {}

    def run_page_section(self, run: Run, step_runs: list[StepRun]) -> "RunPageSection | None":
        """A section of the run page about these waiting step runs of `run` (e.g. the people
        they wait for, with a reassign form), or None for nothing to show."""
        return None

    def participant_filter(self, user) -> Q | Exists | None:
        """A condition on Run, true when `user` took part in the run through this kind (was
        assigned one of its step runs, say). The progress page ORs the kinds' conditions
        with "started it" and "completed a step" in one query."""
        return None

    def overdue_filter(self, now: datetime.datetime) -> Q | Exists | None:
        """A condition on Run, true when one of its step runs of this kind waits past its
        due date at `now` (the dashboard's "overdue" filter). Only a waiting step can be
        overdue, so it may only hold for running and failed runs: the dashboard tells
        PostgreSQL so. It runs over a million runs: keep it an EXISTS an index serves."""
        return None

    def fill_history(self, cursor, *, after_run_id: int) -> list["FilledRows"]:
        """Bench data (`manage.py fill_run_history`, PostgreSQL): the kind's own rows for the
        synthetic step runs of the runs whose id is above `after_run_id`, inserted in bulk
        SQL through `cursor`, inside the command's transaction."""
        return []


_kinds: dict[str, StepKind] = {}


def register_kind(name: str, kind: StepKind) -> None:
    _kinds[name] = kind


def get_kind(name: str) -> StepKind:
    try:
        return _kinds[name]
    except KeyError:
        raise StepCannotStart(f'No step kind "{name}" is installed.') from None


class BackgroundKind(StepKind):
    """Runs the step's action on a Celery worker (the `actions` queue)."""

    start_status = StepRun.Status.QUEUED

    def prepare(self, start: StepStart) -> None:
        start.step_run.dispatched_at = start.now

    def start(self, starts: list[StepStart]) -> list[Any]:
        for start in starts:
            dispatch(start.step_run)
        return []


def dispatch(step_run: StepRun, countdown: float | None = None) -> None:
    """Send the step run's next attempt to a worker once the transaction commits."""
    from runs.tasks import execute_step

    args = (step_run.run_id, step_run.pk, step_run.attempts + 1)

    def send():
        execute_step.apply_async(args, countdown=countdown)

    transaction.on_commit(send, robust=True)


# What the pages use ----------------------------------------------------------------------------


@dataclass
class RunPageSection:
    """A kind's part of the run page: a template of the kind's app, rendered inside the page
    (with the page's context: `run`, `perms`...) and given `section` = this context."""

    template: str
    context: dict[str, Any]


@dataclass
class FilledRows:
    """What a kind's fill_history() inserted: rows of `table`, named for the report."""

    name: str
    count: int
    table: str


def registered_kinds() -> list[StepKind]:
    """Every installed kind, in the order they were registered."""
    return list(_kinds.values())


def step_runs_by_kind(
    steps: dict[int, Any], step_runs: list[StepRun]
) -> list[tuple[StepKind, list[StepRun]]]:
    """The step runs grouped by the installed kind of their step (`steps`: the plan's steps
    by id); step runs of a kind that is not installed are left out."""
    grouped: dict[str, list[StepRun]] = {}
    for step_run in step_runs:
        grouped.setdefault(steps[step_run.step_id].kind, []).append(step_run)
    return [(_kinds[name], runs) for name, runs in grouped.items() if name in _kinds]
