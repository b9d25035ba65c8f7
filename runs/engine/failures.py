"""The sentences a run stops with when its own data cannot be read (a condition over a bad
answer, a computed assignee that names nobody): what could not be evaluated, why, and what
to do about it. Each action a sentence names is a button the run page shows on a stopped
run: correcting a step's answers and Retry, Skip for a failed step, Cancel for the run.
"""

from orchestrator.expressions import ExpressionError, names_in
from runs.engine.data import answering_step_runs
from runs.engine.unit import RunState
from runs.kinds import get_kind
from runs.models import StepRun


def expression_failed(state: RunState, what: str, exc: ExpressionError, *, step: bool) -> str:
    """`what` ("The route condition of stage "Review"") could not be evaluated: why, and what
    to do. `step`: a step stops on it (it can be skipped), else the run does."""
    return f"{what} ({exc.source}) could not be evaluated: {exc.reason}. " + what_to_do(
        state, exc.source, step=step
    )


def what_to_do(state: RunState, reads: str, *, step: bool) -> str:
    """Correct the answers the expression `reads` and retry, when the run has such answers
    that can be corrected; else skip the step (`step`) or cancel the run."""
    labels = [f'"{state.plan.steps[sr.step_id].label}"' for sr in correctable(state, reads)]
    if labels:
        return f"Correct the answers of {_and_join(labels)} below, then retry."
    if step:
        return "It reads no answers that can be corrected here: skip the step or cancel the run."
    return "It reads no answers that can be corrected here: cancel the run."


def correctable(state: RunState, reads: str) -> list[StepRun]:
    """The step runs whose answers the steps `reads` names give the run data (the latest
    completed), when their kind lets an operator correct them; in the plan's order."""
    names = names_in(reads)
    answering = answering_step_runs(state.step_runs)
    found = []
    for step in state.plan.steps.values():
        step_run = answering.get(step.pk)
        if step.key not in names or step_run is None:
            continue
        if get_kind(step.kind).answers_form(state.plan, step_run) is not None:
            found.append(step_run)
    return found


def _and_join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
