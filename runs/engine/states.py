"""The state diagrams of step runs and runs: every change of a status is one of these moves.

`RunState.move()` checks each step run move against it, and the one change made outside a
run's lock, a worker taking a queued attempt (queued -> running), matches only the statuses
`allowed_from(RUNNING)` names, in Python and in SQL alike. `RunState.set_run()` checks each
run move, and the operator's retry of a stopped run asks `run_may_move()` first.
"""

from functools import cache

from runs.models import Run, StepRun

S = StepRun.Status
R = Run.Status

STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.QUEUED, S.WAITING, S.SKIPPED, S.CANCELLED, S.FAILED}),
    S.QUEUED: frozenset({S.RUNNING, S.SKIPPED, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMPLETED, S.QUEUED, S.WAITING, S.FAILED, S.SKIPPED, S.CANCELLED}),
    S.WAITING: frozenset({S.COMPLETED, S.FAILED, S.SKIPPED, S.CANCELLED}),
    S.FAILED: frozenset({S.PENDING, S.SKIPPED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}
STEP_DONE = frozenset({S.COMPLETED, S.SKIPPED, S.CANCELLED})
STEP_OPEN = frozenset({S.PENDING, S.QUEUED, S.RUNNING, S.WAITING, S.FAILED})


@cache
def allowed_from(to: str) -> tuple[str, ...]:
    """The statuses a step run may move to `to` from, in a fixed order (for SQL)."""
    return tuple(sorted(status for status, targets in STEP_TRANSITIONS.items() if to in targets))


def check_move(step_run_id, status: str, to: str) -> None:
    if to not in STEP_TRANSITIONS[status]:
        raise AssertionError(f"step run {step_run_id}: {status} -> {to} is not allowed")


RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    R.RUNNING: frozenset({R.COMPLETED, R.FAILED, R.CANCELLED}),
    # failed -> running: an operator retried it (a step, or the run where it stopped);
    # failed -> failed: a parallel step failed too while it was stopped.
    R.FAILED: frozenset({R.RUNNING, R.FAILED, R.CANCELLED}),
    R.COMPLETED: frozenset(),
    R.CANCELLED: frozenset(),
}


def run_may_move(status: str, to: str) -> bool:
    return to in RUN_TRANSITIONS[status]


def check_run_move(run_id, status: str, to: str) -> None:
    if not run_may_move(status, to):
        raise AssertionError(f"run {run_id}: {status} -> {to} is not allowed")
