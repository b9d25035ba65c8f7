"""The step run state diagram: every change of a step run's status is one of these moves.

`RunState.move()` checks each move against it, and the one change made outside a run's
lock, a worker taking a queued attempt (queued -> running), matches only the statuses
`allowed_from(RUNNING)` names, in Python and in SQL alike.
"""

from functools import cache

from runs.models import StepRun

S = StepRun.Status

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
