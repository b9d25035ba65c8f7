"""Step kinds: how a step run starts and stops. The engine asks; the kind does its part.

A kind is a small object registered under the Step.kind value. The `background` kind lives
here; the `interactive` kind lives in `workitems` and registers itself from its AppConfig, so
the engine never imports `workitems`. A new kind ("wait for an external event") is one new
module that subclasses StepKind and calls register_kind() from its app's ready().

The engine calls, inside the run's lock:
- `prepare(start)` while it advances, before anything is written: resolve what the start
  needs (an assignee, a due date). Raise StepCannotStart with a sentence to fail the step.
- `start(starts)` once the step runs are written, with every step run this transaction
  starts: return the new rows to write with the transaction's writes (the engine inserts
  them in bulk; their ids are not read back), schedule side effects with
  transaction.on_commit.
- `completed(step_run, user, now)` when a waiting step run is completed by a person; raise
  StepRefused with a sentence if that person may no longer complete it.
- `cancel(step_runs, now)` when step runs are skipped or cancelled before finishing.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from runs.models import Run, StepRun


class StepCannotStart(Exception):
    """The step cannot start (say why in a sentence); the engine fails the step run."""


class StepRefused(Exception):
    """The kind refuses a completion (say why in a sentence); nothing is changed."""


@dataclass
class StepStart:
    run: Run
    step_run: StepRun
    step: Any  # orchestrator.models.Step, with its related rows loaded by the plan
    data: dict[str, Any]
    now: datetime.datetime
    prepared: Any = None


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
