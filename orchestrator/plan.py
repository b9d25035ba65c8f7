"""A version's definition tree loaded once into memory, for the engine's hot path.

Active and retired versions cannot change (the model layer refuses), so their plan is cached
per process for good; a draft's plan is loaded afresh each time.
"""

import threading
from dataclasses import dataclass, field

from django.db.models import Prefetch

from orchestrator.models import (
    Field,
    OrchestrationVersion,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)


@dataclass
class StagePlan:
    stage: Stage
    steps: list[Step]
    routes: list[StageRoute]
    index: int

    @property
    def id(self) -> int:
        return self.stage.id


@dataclass
class VersionPlan:
    version: OrchestrationVersion
    stages: list[StagePlan]
    steps: dict[int, Step] = field(default_factory=dict)
    stage_by_id: dict[int, StagePlan] = field(default_factory=dict)
    depends_on: dict[int, tuple[int, ...]] = field(default_factory=dict)
    screen_flows: dict[int, ScreenFlow] = field(default_factory=dict)
    # Separation of duties: step id -> the steps whose completers may not complete it.
    excludes_completers_of: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Confidential fields: field id -> the steps that may see its answer (the steps that
    # ask it, and those it names).
    confidential_readers: dict[int, frozenset[int]] = field(default_factory=dict)

    def has_exclusions(self, step: Step) -> bool:
        return step.exclude_starter or bool(self.excludes_completers_of.get(step.id))

    def stage_after(self, stage_id: int) -> StagePlan | None:
        index = self.stage_by_id[stage_id].index + 1
        return self.stages[index] if index < len(self.stages) else None


_cache: dict[int, VersionPlan] = {}
_lock = threading.Lock()


def load_plan(version_id: int) -> VersionPlan:
    plan = _cache.get(version_id)
    if plan is not None:
        return plan
    plan = _build(version_id)
    if plan.version.status != OrchestrationVersion.Status.DRAFT:
        with _lock:
            _cache[version_id] = plan
    return plan


def _build(version_id: int) -> VersionPlan:
    version = OrchestrationVersion.objects.select_related("orchestration").get(pk=version_id)
    steps = list(
        Step.objects.filter(version_id=version_id)
        .select_related("assignee_user", "assignee_queue", "assignee_group", "creates_record")
        .prefetch_related("depends_on", "exclude_completers_of")
        .order_by("stage__position", "position", "id")
    )
    stages = list(
        Stage.objects.filter(version_id=version_id)
        .prefetch_related(
            Prefetch("routes", queryset=StageRoute.objects.order_by("position", "id"))
        )
        .order_by("position", "id")
    )
    flows = {
        flow.id: flow
        for flow in ScreenFlow.objects.filter(version_id=version_id).prefetch_related(
            Prefetch(
                "screens",
                queryset=Screen.objects.order_by("position", "id").prefetch_related(
                    Prefetch("fields", queryset=Field.objects.order_by("position", "id"))
                ),
            )
        )
    }
    plan = VersionPlan(version=version, stages=[], screen_flows=flows)
    for index, stage in enumerate(stages):
        stage_plan = StagePlan(
            stage=stage,
            steps=[step for step in steps if step.stage_id == stage.id],
            routes=list(stage.routes.all()),
            index=index,
        )
        plan.stages.append(stage_plan)
        plan.stage_by_id[stage.id] = stage_plan
    for step in steps:
        plan.steps[step.id] = step
        plan.depends_on[step.id] = tuple(dep.id for dep in step.depends_on.all())
        plan.excludes_completers_of[step.id] = tuple(
            other.id for other in step.exclude_completers_of.all()
        )
        if step.screen_flow_id:
            step.screen_flow = flows.get(step.screen_flow_id)
    plan.confidential_readers = _confidential_readers(flows, steps)
    return plan


def _confidential_readers(
    flows: dict[int, ScreenFlow], steps: list[Step]
) -> dict[int, frozenset[int]]:
    """Who may see each confidential field's answer: the steps whose screen flow asks it, and
    the steps it names. One query for the names, none when no field is confidential."""
    flow_of = {
        field.id: flow.id
        for flow in flows.values()
        for screen in flow.screens.all()
        for field in screen.fields.all()
        if field.confidential
    }
    if not flow_of:
        return {}
    readers: dict[int, set[int]] = {
        field_id: {step.id for step in steps if step.screen_flow_id == flow_id}
        for field_id, flow_id in flow_of.items()
    }
    named = Field.visible_to_steps.through.objects.filter(field_id__in=list(flow_of))
    for field_id, step_id in named.values_list("field_id", "step_id"):
        readers[field_id].add(step_id)
    return {field_id: frozenset(ids) for field_id, ids in readers.items()}
