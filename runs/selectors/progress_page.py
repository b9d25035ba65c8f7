"""Reads of the progress page (/runs/<id>/progress/): the whole process, for the people who
took part in a run. Who took part and whom a waiting step waits for are asked of the step
kinds (runs/kinds.py), which know their own rows.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from orchestrator.plan import load_plan
from runs.kinds import registered_kinds, step_runs_by_kind
from runs.models import Run, StageRun, StepRun


def is_participant(run: Run, user) -> bool:
    """Whether the user took part in the run: started it, completed one of its steps, or
    took part through a step kind (the interactive kind: is or was the assignee, owner or
    completer of one of its work items, directly or through a queue or group). One query."""
    completed = StepRun.objects.filter(run=OuterRef("pk"), completed_by=user)
    condition = Q(started_by=user) | Exists(completed)
    for kind in registered_kinds():
        kind_condition = kind.participant_filter(user)
        if kind_condition is not None:
            condition |= kind_condition
    return Run.objects.filter(pk=run.pk).filter(condition).exists()


@dataclass
class ProgressStep:
    label: str
    status: str
    status_label: str
    waits_for: str


@dataclass
class ProgressStage:
    label: str
    status: str
    status_label: str
    iteration: int
    steps: list[ProgressStep]

    @property
    def is_current(self) -> bool:
        return self.status == StageRun.Status.ACTIVE


@dataclass
class Progress:
    run: Run
    stages: list[ProgressStage]
    waiting_for: list[tuple[str, str]]  # (step label, who)


def progress(run: Run) -> Progress:
    """The whole process in the definition's order: each stage's latest iteration with its
    steps' statuses, and who the run waits for now. No answers: participants see the shape
    of the process, not other people's data."""
    plan = load_plan(run.version_id)
    latest: dict[int, StageRun] = {}
    for stage_run in StageRun.objects.filter(run=run).order_by("id"):
        latest[stage_run.stage_id] = stage_run
    step_runs: dict[int, list[StepRun]] = defaultdict(list)
    for step_run in StepRun.objects.filter(run=run).order_by("id"):
        step_runs[step_run.stage_run_id].append(step_run)
    waiting = [
        step_run
        for runs in step_runs.values()
        for step_run in runs
        if step_run.status == StepRun.Status.WAITING
    ]
    waits_for: dict[int, str] = {}
    for kind, kind_step_runs in step_runs_by_kind(plan.steps, waiting):
        waits_for.update(kind.waiting_for(kind_step_runs))
    stages = []
    waiting_for = []
    for stage_plan in plan.stages:
        stage_run = latest.get(stage_plan.id)
        steps = []
        for step_run in step_runs.get(stage_run.pk, []) if stage_run else []:
            step = plan.steps[step_run.step_id]
            who = waits_for.get(step_run.pk, "")
            if step_run.status == StepRun.Status.FAILED:
                who = "an operator"
            if who:
                waiting_for.append((step.label, who))
            steps.append(
                ProgressStep(
                    label=step.label,
                    status=step_run.status,
                    status_label=step_run.get_status_display(),
                    waits_for=who,
                )
            )
        if stage_run is None:
            steps = [
                ProgressStep(
                    label=step.label, status="pending", status_label="Pending", waits_for=""
                )
                for step in stage_plan.steps
            ]
        status = stage_run.status if stage_run else StageRun.Status.PENDING
        stages.append(
            ProgressStage(
                label=stage_plan.stage.label,
                status=status,
                status_label=StageRun.Status(status).label,
                iteration=stage_run.iteration if stage_run else 1,
                steps=steps,
            )
        )
    return Progress(run=run, stages=stages, waiting_for=waiting_for)
