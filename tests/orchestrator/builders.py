"""Small builders for orchestration definitions: a valid version, then the piece a test breaks."""

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


def make_orchestration(key: str = "onboarding", name: str = "Onboarding") -> Orchestration:
    return Orchestration.objects.get_or_create(key=key, defaults={"name": name})[0]


def make_version(orchestration: Orchestration | None = None, **extra) -> OrchestrationVersion:
    orchestration = orchestration or make_orchestration()
    number = orchestration.versions.count() + 1
    return OrchestrationVersion.objects.create(orchestration=orchestration, number=number, **extra)


def add_stage(version: OrchestrationVersion, key: str, **extra) -> Stage:
    extra.setdefault("position", version.stages.count() + 1)
    extra.setdefault("label", key.replace("_", " ").capitalize())
    return Stage.objects.create(version=version, key=key, **extra)


def add_flow(
    version: OrchestrationVersion,
    key: str = "form",
    fields: tuple[tuple[str, str], ...] = (("full_name", Field.Type.TEXT),),
) -> ScreenFlow:
    """A screen flow with one screen holding `fields` (key, type)."""
    flow = ScreenFlow.objects.create(version=version, key=key, label=key.capitalize())
    screen = Screen.objects.create(flow=flow, position=1, title="Details")
    for position, (field_key, field_type) in enumerate(fields, start=1):
        add_field(screen, field_key, type=field_type, position=position)
    return flow


def add_field(screen: Screen, key: str, **extra) -> Field:
    extra.setdefault("label", key.replace("_", " ").capitalize())
    if extra.get("type") in (Field.Type.CHOICE, Field.Type.DECISION, Field.Type.MULTIPLE_CHOICE):
        extra.setdefault("choices", [{"value": "yes", "label": "Yes"}])
    return Field.objects.create(screen=screen, key=key, **extra)


def add_interactive_step(stage: Stage, key: str, *, flow: ScreenFlow | None = None, **extra):
    extra.setdefault("label", key.replace("_", " ").capitalize())
    extra.setdefault("assignee_type", Step.AssigneeType.STARTER)
    extra.setdefault("position", stage.steps.count() + 1)
    if flow is None:
        flow = stage.version.screen_flows.first() or add_flow(stage.version)
    return Step.objects.create(
        version=stage.version,
        stage=stage,
        key=key,
        kind=Step.Kind.INTERACTIVE,
        screen_flow=flow,
        **extra,
    )


def add_background_step(stage: Stage, key: str, **extra) -> Step:
    extra.setdefault("label", key.replace("_", " ").capitalize())
    extra.setdefault("action", "log")
    extra.setdefault("parameters", {"message": "Hello {{ input.name }}"})
    extra.setdefault("position", stage.steps.count() + 1)
    return Step.objects.create(
        version=stage.version, stage=stage, key=key, kind=Step.Kind.BACKGROUND, **extra
    )


def add_route(stage: Stage, **extra) -> StageRoute:
    extra.setdefault("position", stage.routes.count() + 1)
    return StageRoute.objects.create(stage=stage, **extra)


def build_valid_version(orchestration: Orchestration | None = None) -> OrchestrationVersion:
    """Two stages: a form filled by the starter, then a review with two ordered steps, a
    decision, and routes (rework back to the form, or end as rejected)."""
    version = make_version(orchestration)
    flow = add_flow(version, "request", fields=(("amount", Field.Type.INTEGER),))
    review_flow = add_flow(version, "review", fields=(("decision", Field.Type.DECISION),))
    request = add_stage(version, "request", label="Request")
    review = add_stage(version, "review", label="Review", entry_condition="input.amount > 10")
    add_interactive_step(request, "request_form", flow=flow, label="Request form")
    check = add_background_step(review, "check", label="Check")
    decide = add_interactive_step(
        review,
        "decide",
        flow=review_flow,
        label="Decide",
        instructions="Amount: {{ request_form.amount }}",
    )
    decide.depends_on.add(check)
    add_route(review, condition='decide.decision == "rework"', target_stage=request)
    add_route(review, condition='decide.decision == "no"', action="end", outcome="rejected")
    return version
