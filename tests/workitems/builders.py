"""Small orchestrations for the work item tests, built in code and launched through the engine."""

import datetime
from typing import Any

from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Screen,
    ScreenFlow,
    Stage,
    Step,
)
from runs import engine
from workitems.models import WorkItem

DECISION = [{"value": "approve", "label": "Approve"}, {"value": "reject", "label": "Reject"}]


def field(key: str, type: str = "text", **extra) -> dict[str, Any]:
    return {"key": key, "type": type, **extra}


def build_orchestration(
    key: str,
    *,
    steps: list[dict[str, Any]],
    name: str = "",
    starter_groups=(),
) -> OrchestrationVersion:
    """One stage per step, in order, activated. A step: {"key", "label", "user" | "queue" |
    "group" | "starter": True | "expression", "screens": [[field, ...], ...] (or "fields"),
    "instructions", "allow_reassign", "due_in", "remind_every", "escalate_after",
    "escalate_to", "kind": "background", "action", "params"}."""
    orchestration, _ = Orchestration.objects.get_or_create(
        key=key, defaults={"name": name or key.replace("-", " ").capitalize()}
    )
    orchestration.starter_groups.add(*starter_groups)
    number = (orchestration.versions.order_by("-number").first() or _NoVersion).number + 1
    version = OrchestrationVersion.objects.create(orchestration=orchestration, number=number)
    for position, spec in enumerate(steps):
        stage = Stage.objects.create(
            version=version, position=position, key=f"stage-{spec['key']}", label=spec["key"]
        )
        _step(version, stage, spec)
    version.activate()
    return version


class _NoVersion:
    number = 0


def _step(version: OrchestrationVersion, stage: Stage, spec: dict[str, Any]) -> Step:
    label = spec.get("label", spec["key"].replace("_", " ").capitalize())
    step = Step(version=version, stage=stage, key=spec["key"], label=label)
    if spec.get("kind") == "background":
        step.kind = Step.Kind.BACKGROUND
        step.action = spec.get("action", "log")
        step.parameters = spec.get("params", {"message": "hello"})
        step.save()
        return step
    for name in ("user", "queue", "group"):
        if name in spec:
            step.assignee_type = name
            setattr(step, f"assignee_{name}", spec[name])
    if spec.get("starter"):
        step.assignee_type = Step.AssigneeType.STARTER
    if "expression" in spec:
        step.assignee_type = Step.AssigneeType.EXPRESSION
        step.assignee_expression = spec["expression"]
    step.instructions = spec.get("instructions", "")
    step.allow_reassign = spec.get("allow_reassign", True)
    for name in ("due_in", "remind_every", "escalate_after"):
        if spec.get(name) is not None:
            setattr(step, name, spec[name])
    step.escalate_to = spec.get("escalate_to")
    flow = ScreenFlow.objects.create(version=version, key=spec["key"], label=label)
    screens = spec.get("screens") or [spec.get("fields", [field("note", required=False)])]
    for screen_position, fields in enumerate(screens):
        screen = Screen.objects.create(
            flow=flow, position=screen_position, title=f"{label} ({screen_position + 1})"
        )
        for position, spec_field in enumerate(fields):
            Field.objects.create(
                screen=screen,
                position=position,
                key=spec_field["key"],
                label=spec_field.get("label", spec_field["key"].replace("_", " ").capitalize()),
                type=spec_field.get("type", "text"),
                required=spec_field.get("required", True),
                help_text=spec_field.get("help_text", ""),
                choices=spec_field.get("choices", []),
                default=spec_field.get("default", ""),
                limit_to_group=spec_field.get("limit_to_group"),
            )
    step.screen_flow = flow
    step.save()
    return step


def launch(key: str, *, started_by=None, inputs=None) -> WorkItem:
    """Launch a run and return its first open work item."""
    run = engine.launch(key, started_by=started_by, inputs=inputs)
    return WorkItem.objects.filter(run=run, status=WorkItem.Status.OPEN).order_by("id").first()


def open_item(run_id: int) -> WorkItem | None:
    return WorkItem.objects.filter(run_id=run_id, status=WorkItem.Status.OPEN).first()


def day(days: float) -> datetime.timedelta:
    return datetime.timedelta(days=days)
