"""Separation of duties: the people who must not complete a step of a run.

A step can exclude the person who started the run (`Step.exclude_starter`) and whoever
completed named earlier steps (`Step.exclude_completers_of`), in any iteration. The engine
refuses their completion; the step kinds refuse to assign, hand or offer them the step. Each
refusal is one sentence naming the person and the reason:
'Ana Lopez started this run and cannot complete "Underwriting review".'
"""

from collections.abc import Iterable

from orchestrator.plan import VersionPlan
from runs.models import StepRun


def excluded_people(
    plan: VersionPlan, step, *, started_by_id: int | None, step_runs: Iterable[StepRun]
) -> dict[int, str]:
    """Who may not complete `step` in a run, by user id, with why ("started this run",
    'completed "New hire form"'), from rows already loaded: the run's starter and its step
    runs. Empty, at no cost, for a step that excludes nobody."""
    if not plan.has_exclusions(step):
        return {}
    why: dict[int, str] = {}
    if step.exclude_starter and started_by_id is not None:
        why[started_by_id] = "started this run"
    named = set(plan.excludes_completers_of.get(step.id, ()))
    for step_run in sorted(step_runs, key=lambda sr: sr.pk or 0):
        person = step_run.completed_by_id
        if (
            step_run.step_id in named
            and step_run.status == StepRun.Status.COMPLETED
            and person is not None
            and person not in why
        ):
            why[person] = f'completed "{plan.steps[step_run.step_id].label}"'
    return why


def excluded_in_run(plan: VersionPlan, step, *, run) -> dict[int, str]:
    """`excluded_people` for a run whose step runs are not loaded: one query, only when the
    step names earlier steps."""
    named = plan.excludes_completers_of.get(step.id, ())
    step_runs = (
        StepRun.objects.filter(
            run_id=run.pk,
            step_id__in=named,
            status=StepRun.Status.COMPLETED,
            completed_by__isnull=False,
        ).only("id", "step_id", "status", "completed_by_id")
        if named
        else []
    )
    return excluded_people(plan, step, started_by_id=run.started_by_id, step_runs=step_runs)


def refusal(person: str, why: str, step) -> str:
    """The sentence that refuses `person` (a name, or "You") the step."""
    return f'{person} {why} and cannot complete "{step.label}".'
