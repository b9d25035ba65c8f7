"""Reads of one run's page (/runs/<id>/): stages and steps with their answers, failures, the
sections the step kinds add for their waiting steps, the event log and the run data; on a
stopped run, what it stopped on and the forms the kinds give to correct answers.

A fixed handful of queries whatever the size of the run (the version's plan is cached per
process): stage runs, step runs, events, the people named in answers (if any), and what each
kind with waiting step runs needs for its section (the interactive kind: the open work items,
and the queues of its reassign form), and each run listener's section (the notifications).
"""

from dataclasses import dataclass, field
from typing import Any

from orchestrator.plan import load_plan
from runs.answers import answers, display_value, fields_of, people_in_answers
from runs.engine import STEP_OPEN, run_data
from runs.engine.data import answering_step_runs
from runs.kinds import RunPageSection, step_runs_by_kind
from runs.listeners import registered_listeners
from runs.models import Run, RunEvent, StageRun, StepRun

MAX_EVENTS = 500


@dataclass
class StepRunView:
    step_run: StepRun
    step: Any  # orchestrator.models.Step from the version's plan
    answers: list[tuple[str, str]]

    @property
    def can_skip(self) -> bool:
        return self.step_run.status in STEP_OPEN


@dataclass
class StageRunView:
    stage_run: StageRun
    stage: Any
    steps: list[StepRunView]


@dataclass
class EventView:
    event: RunEvent
    step_label: str
    details: list[tuple[str, str]]


@dataclass
class Correction:
    """The answers of a completed step that an operator may correct on a stopped run: the
    kind's form, and the reason typed (kept, with its errors, when the form comes back)."""

    step_run: StepRun
    step: Any
    form: Any  # runs.kinds.AnswersForm
    reason: str = ""
    reason_errors: list[str] = field(default_factory=list)
    open: bool = False


@dataclass
class RunDetail:
    run: Run
    stages: list[StageRunView]
    failed_steps: list[StepRunView]
    # The step kinds' sections about their waiting steps ("Waiting for people").
    sections: list[RunPageSection]
    events: list[EventView]
    events_truncated: bool
    data: dict[str, Any]
    # A stopped run: the sentence it stopped with, and the answers that can be corrected.
    failure: str = ""
    corrections: list[Correction] = field(default_factory=list)


def run_for_page(run_id: int) -> Run | None:
    return (
        Run.objects.select_related("orchestration", "version", "started_by", "record_type")
        .filter(pk=run_id)
        .first()
    )


def run_detail(run: Run) -> RunDetail:
    """Everything the run page shows, in a fixed handful of queries."""
    plan = load_plan(run.version_id)
    stage_runs = list(StageRun.objects.filter(run=run).order_by("id"))
    step_runs = list(StepRun.objects.filter(run=run).select_related("completed_by").order_by("id"))
    events = list(
        RunEvent.objects.filter(run=run).select_related("actor").order_by("-id")[: MAX_EVENTS + 1]
    )
    # Answers are what a person entered: steps somebody completed.
    answered = [step_run for step_run in step_runs if step_run.completed_by_id]
    people = people_in_answers(plan, answered)
    views: dict[int, StepRunView] = {}
    for step_run in step_runs:
        step = plan.steps[step_run.step_id]
        views[step_run.pk] = StepRunView(
            step_run=step_run,
            step=step,
            answers=answers(fields_of(plan, step), step_run.outputs, people)
            if step_run.completed_by_id
            else [],
        )
    stages = []
    for stage_run in stage_runs:
        stage_run.run = run
        stages.append(
            StageRunView(
                stage_run=stage_run,
                stage=plan.stage_by_id[stage_run.stage_id].stage,
                steps=[
                    view for view in views.values() if view.step_run.stage_run_id == stage_run.pk
                ],
            )
        )
    waiting = [step_run for step_run in step_runs if step_run.status == StepRun.Status.WAITING]
    sections = [
        section
        for kind, kind_step_runs in step_runs_by_kind(plan.steps, waiting)
        if (section := kind.run_page_section(run, kind_step_runs)) is not None
    ]
    # The run listeners' sections (the outbox's notifications), one query each.
    sections += [
        section
        for listener in registered_listeners()
        if (section := listener.run_page_section(run)) is not None
    ]
    event_views = []
    for event in events[:MAX_EVENTS]:
        view = views.get(event.step_run_id) if event.step_run_id else None
        event_views.append(
            EventView(
                event=event,
                step_label=view.step.label if view else "",
                details=[
                    (key.replace("_", " "), display_value(value))
                    for key, value in event.data.items()
                ],
            )
        )
    failure = ""
    corrections = []
    if run.status == Run.Status.FAILED:
        failure = next((str(e.data.get("error", "")) for e in events if e.kind == "run.failed"), "")
        corrections = _corrections(plan, step_runs, views)
    return RunDetail(
        run=run,
        stages=stages,
        failed_steps=[
            view for view in views.values() if view.step_run.status == StepRun.Status.FAILED
        ],
        sections=sections,
        events=event_views,
        events_truncated=len(events) > MAX_EVENTS,
        data=run_data(run, step_runs, plan),
        failure=failure,
        corrections=corrections,
    )


def _corrections(plan, step_runs: list[StepRun], views: dict[int, StepRunView]):
    """The answers the run data reads (each step's latest completed step run) whose kind
    gives a form to correct them, in the order the steps ran."""
    answering = sorted(answering_step_runs(step_runs).values(), key=lambda sr: sr.pk)
    corrections = []
    for kind, kind_step_runs in step_runs_by_kind(plan.steps, answering):
        for step_run in kind_step_runs:
            form = kind.answers_form(plan, step_run)
            if form is not None:
                corrections.append(Correction(step_run, views[step_run.pk].step, form))
    return sorted(corrections, key=lambda correction: correction.step_run.pk)
