"""A compact builder of orchestration definitions for tests: stages, steps and routes as dicts."""

import datetime
from typing import Any

from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)


def build(key: str, stages: list[dict[str, Any]], *, activate: bool = True) -> OrchestrationVersion:
    """Build (and activate) a version. A stage: {"key", "entry", "exit", "steps": [...],
    "routes": [{"condition", "to" | "end", "max_repeats"}]}. A step: {"key", "kind"
    ("interactive" default, or "background"), "user" | "queue" | "group" | "expression" |
    "starter": True, "fields": [{"key", "type", "required", "choices"}], "action",
    "params", "depends_on": [keys], "entry", "max_retries", "backoff", "timeout"}."""
    orchestration, _ = Orchestration.objects.get_or_create(key=key, defaults={"name": key})
    number = (
        orchestration.versions.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    version = OrchestrationVersion.objects.create(orchestration=orchestration, number=number)
    stage_objects: dict[str, Stage] = {}
    step_objects: dict[str, Step] = {}
    for position, spec in enumerate(stages):
        stage_objects[spec["key"]] = Stage.objects.create(
            version=version,
            position=position,
            key=spec["key"],
            label=spec.get("label", spec["key"].replace("_", " ").capitalize()),
            entry_condition=spec.get("entry", ""),
            exit_condition=spec.get("exit", ""),
        )
    for spec in stages:
        stage = stage_objects[spec["key"]]
        for position, step_spec in enumerate(spec["steps"]):
            step_objects[step_spec["key"]] = _step(version, stage, position, step_spec)
        for position, route in enumerate(spec.get("routes", [])):
            StageRoute.objects.create(
                stage=stage,
                position=position,
                condition=route.get("condition", ""),
                action=StageRoute.Action.END if "end" in route else StageRoute.Action.GO_TO,
                target_stage=stage_objects.get(route.get("to")),
                outcome=route.get("end", ""),
                max_repeats=route.get("max_repeats", 3),
            )
    for spec in stages:
        for step_spec in spec["steps"]:
            deps = [step_objects[k] for k in step_spec.get("depends_on", [])]
            if deps:
                step_objects[step_spec["key"]].depends_on.set(deps)
    if activate:
        version.activate()
    return version


def _step(version, stage, position, spec) -> Step:
    kind = spec.get("kind", "interactive")
    step = Step(
        version=version,
        stage=stage,
        position=position,
        key=spec["key"],
        label=spec.get("label", spec["key"].replace("_", " ").capitalize()),
        kind=kind,
        entry_condition=spec.get("entry", ""),
    )
    if kind == "background":
        step.action = spec.get("action", "log")
        step.parameters = spec.get("params", {"message": "hello"})
        step.max_retries = spec.get("max_retries", 3)
        step.retry_backoff_seconds = spec.get("backoff", 0.01)
        if spec.get("timeout"):
            step.timeout = datetime.timedelta(seconds=spec["timeout"])
    else:
        for name in ("user", "queue", "group"):
            if name in spec:
                step.assignee_type = name
                setattr(step, f"assignee_{name}", spec[name])
        if "expression" in spec:
            step.assignee_type = Step.AssigneeType.EXPRESSION
            step.assignee_expression = spec["expression"]
        if spec.get("starter"):
            step.assignee_type = Step.AssigneeType.STARTER
        flow = ScreenFlow.objects.create(version=version, key=spec["key"], label=step.label)
        screen = Screen.objects.create(flow=flow, position=0, title=step.label)
        for index, field in enumerate(spec.get("fields", [{"key": "note", "required": False}])):
            Field.objects.create(
                screen=screen,
                position=index,
                key=field["key"],
                label=field.get("label", field["key"].capitalize()),
                type=field.get("type", "text"),
                required=field.get("required", True),
                choices=field.get("choices", []),
            )
        step.screen_flow = flow
    step.save()
    return step
