"""Checks a whole version before it may be activated and says every problem in a sentence."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch

from orchestrator.actions import get_action, registered_actions
from orchestrator.expressions import INT64_MAX, INT64_MIN, check, check_value
from orchestrator.models import (
    Field,
    OrchestrationVersion,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)
from orchestrator.templating import problem as template_problem

# Run data keeps these next to the step outputs (see runs.engine.run_data): a step under one
# of these keys would hide them.
RESERVED_STEP_KEYS = {
    "input": "the launch inputs",
    "record": "the related record",
    "run": "the run itself",
}
FIELD_TYPES_WITH_CHOICES = {Field.Type.CHOICE, Field.Type.MULTIPLE_CHOICE, Field.Type.DECISION}
# A decimal answer is kept as a number in the run data: more digits than this mean nothing.
MAX_DECIMAL_DIGITS = 30


@dataclass
class Definition:
    """A version's tree, loaded once (a handful of queries) for every check to read."""

    version: OrchestrationVersion
    stages: list[Stage]
    routes: list[StageRoute]
    steps: list[Step]
    flows: list[ScreenFlow]
    screens: list[Screen]
    fields: list[Field]
    depends_on: dict[int, list[Step]] = field(default_factory=dict)


def validate_version(version: OrchestrationVersion) -> list[str]:
    """Every problem of the version, as sentences an admin understands; empty when valid."""
    definition = load_definition(version)
    problems: list[str] = []
    for check_definition in CHECKS:
        problems.extend(check_definition(definition))
    return problems


def load_definition(version: OrchestrationVersion) -> Definition:
    steps = list(
        Step.objects.filter(version=version)
        .select_related("stage", "screen_flow")
        .prefetch_related(
            Prefetch("depends_on", queryset=Step.objects.select_related("stage").order_by("id")),
            Prefetch(
                "exclude_completers_of",
                queryset=Step.objects.select_related("stage").order_by("id"),
            ),
        )
        .order_by("stage__position", "stage_id", "position", "id")
    )
    return Definition(
        version=version,
        stages=list(Stage.objects.filter(version=version).order_by("position", "id")),
        routes=list(
            StageRoute.objects.filter(stage__version=version)
            .select_related("stage", "target_stage")
            .order_by("stage__position", "stage_id", "position", "id")
        ),
        steps=steps,
        flows=list(ScreenFlow.objects.filter(version=version).order_by("label", "id")),
        screens=list(
            Screen.objects.filter(flow__version=version)
            .select_related("flow")
            .order_by("flow_id", "position", "id")
        ),
        fields=list(
            Field.objects.filter(screen__flow__version=version)
            .select_related("screen__flow")
            .prefetch_related("visible_to_steps")
            .order_by("screen__flow_id", "screen__position", "screen_id", "position", "id")
        ),
        depends_on={step.id: list(step.depends_on.all()) for step in steps},
    )


# Helpers ----------------------------------------------------------------------------------


def _name(thing) -> str:
    return f'"{thing.label or thing.key}"'


def _and_list(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _field_name(item: Field) -> str:
    return f'{_name(item)} on screen "{item.screen.title}" of screen flow {_name(item.screen.flow)}'


def _route_name(definition: Definition, route: StageRoute) -> str:
    """Routes have no key: "route 2 of stage "Review"" counts them in their order."""
    siblings = [other.id for other in definition.routes if other.stage_id == route.stage_id]
    return f"route {siblings.index(route.id) + 1} of stage {_name(route.stage)}"


def _one_line(message: str, source: str = "") -> str:
    """The parser's message on one line: cel-python points at the error with a caret under
    the source text, which an admin message (one line of HTML) would lose."""
    for kind in ("expression", "template"):
        message = message.removeprefix(f"Invalid {kind} {source!r}: ")
    lines = [line for line in message.splitlines() if line.strip()]
    if len(lines) >= 2 and lines[-1].strip() == "^":
        column = lines[-1].index("^") + 1
        text = " ".join(line.strip() for line in lines[:-1])
        return f"{text} (the parser stopped at character {column})"
    return " ".join(line.strip() for line in lines)


def _expression_problem(where: str, source: str) -> str | None:
    if not source.strip():
        return None
    message = check(source)
    if message is None:
        return None
    return _sentence(f"{where} is not a valid expression: {_one_line(message, source)}")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _duplicates(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


# The checks, in the order their messages are shown ------------------------------------------


def check_has_stages(definition: Definition) -> Iterable[str]:
    if not definition.stages:
        yield "This version has no stages; add at least one stage with a step."


def check_stages_have_steps(definition: Definition) -> Iterable[str]:
    used = {step.stage_id for step in definition.steps}
    for stage in definition.stages:
        if stage.id not in used:
            yield f"Stage {_name(stage)} has no steps; every stage needs at least one step."


def check_duplicate_keys(definition: Definition) -> Iterable[str]:
    for key in _duplicates(stage.key for stage in definition.stages):
        yield f'Two stages use the key "{key}"; each stage needs its own key.'
    for key in _duplicates(step.key for step in definition.steps):
        yield f'Two steps use the key "{key}"; each step needs its own key.'
    for key in _duplicates(flow.key for flow in definition.flows):
        yield f'Two screen flows use the key "{key}"; each screen flow needs its own key.'
    for flow in definition.flows:
        keys = (f.key for f in definition.fields if f.screen.flow_id == flow.id)
        for key in _duplicates(keys):
            yield (
                f'Screen flow {_name(flow)} has two fields with the key "{key}"; each answer '
                "is stored under its field's key, so the keys must differ."
            )


def check_reserved_step_keys(definition: Definition) -> Iterable[str]:
    for step in definition.steps:
        if step.key in RESERVED_STEP_KEYS:
            yield (
                f'Step {_name(step)} uses the key "{step.key}", which expressions use for '
                f"{RESERVED_STEP_KEYS[step.key]}; choose another key."
            )


def check_steps_belong_to_the_version(definition: Definition) -> Iterable[str]:
    for step in definition.steps:
        if step.stage.version_id != step.version_id:
            yield f"Step {_name(step)} is in stage {_name(step.stage)} of another version."


def check_dependencies_in_same_stage(definition: Definition) -> Iterable[str]:
    for step in definition.steps:
        for dependency in definition.depends_on[step.id]:
            if dependency.stage_id != step.stage_id:
                yield (
                    f"Step {_name(step)} depends on {_name(dependency)}, which is in stage "
                    f"{_name(dependency.stage)}; a step can only depend on steps of its own "
                    f"stage ({_name(step.stage)})."
                )


def check_dependency_cycles(definition: Definition) -> Iterable[str]:
    edges = {
        step.id: [d.id for d in definition.depends_on[step.id] if d.stage_id == step.stage_id]
        for step in definition.steps
    }
    reachable = {step_id: _reachable_from(step_id, edges) for step_id in edges}
    reported: set[int] = set()
    for step in definition.steps:
        if step.id in reported or step.id not in reachable[step.id]:
            continue
        if edges[step.id] == [step.id] or reachable[step.id] == {step.id}:
            reported.add(step.id)
            yield f"Step {_name(step)} depends on itself; remove that dependency."
            continue
        cycle = [
            other
            for other in definition.steps
            if other.id in reachable[step.id] and step.id in reachable[other.id]
        ]
        reported.update(other.id for other in cycle)
        yield (
            f"Steps {_and_list([_name(other) for other in cycle])} depend on each other in a "
            "cycle, so none of them could ever start; remove one of these dependencies."
        )


def _reachable_from(start: int, edges: dict[int, list[int]]) -> set[int]:
    """Every step reached by following dependencies from `start` (itself only via a loop)."""
    reached: set[int] = set()
    pending = list(edges.get(start, []))
    while pending:
        step_id = pending.pop()
        if step_id not in reached:
            reached.add(step_id)
            pending.extend(edges.get(step_id, []))
    return reached


def check_conditions(definition: Definition) -> Iterable[str]:
    candidates: list[tuple[str, str]] = []
    for stage in definition.stages:
        candidates.append((f"The entry condition of stage {_name(stage)}", stage.entry_condition))
        candidates.append((f"The exit condition of stage {_name(stage)}", stage.exit_condition))
    for route in definition.routes:
        where = f"The condition of {_route_name(definition, route)}"
        candidates.append((where, route.condition))
    for step in definition.steps:
        candidates.append((f"The entry condition of step {_name(step)}", step.entry_condition))
        # Checked even when the assignee type is not "expression": it is kept with the step.
        where = f"The assignee expression of step {_name(step)}"
        candidates.append((where, step.assignee_expression))
    for item in definition.fields:
        candidates.append((f"The default of field {_field_name(item)}", item.default))
    for where, source in candidates:
        problem = _expression_problem(where, source)
        if problem:
            yield problem


def check_routes(definition: Definition) -> Iterable[str]:
    for route in definition.routes:
        where = "R" + _route_name(definition, route)[1:]
        if route.action != StageRoute.Action.GO_TO:
            continue
        if route.target_stage is None:
            yield f'{where} says "go to stage" but names no stage; choose the target stage.'
        elif route.target_stage.version_id != route.stage.version_id:
            yield (
                f"{where} goes to stage {_name(route.target_stage)} of another version; "
                "choose a stage of this version."
            )


def check_interactive_steps(definition: Definition) -> Iterable[str]:
    for step in definition.steps:
        if step.kind != Step.Kind.INTERACTIVE:
            continue
        yield from _assignee_problems(step)
        if step.screen_flow is None:
            yield f"Interactive step {_name(step)} has no screen flow; choose the form it shows."
        elif step.screen_flow.version_id != step.version_id:
            yield (
                f"Interactive step {_name(step)} uses screen flow {_name(step.screen_flow)} "
                "of another version; choose one of this version."
            )
        if step.instructions.strip():
            message = template_problem(step.instructions)
            if message:
                yield _sentence(
                    f"The instructions of step {_name(step)} are not a valid template: "
                    f"{_one_line(message, step.instructions)}"
                )


def _assignee_problems(step: Step) -> Iterable[str]:
    kind = Step.AssigneeType
    missing = {
        kind.USER: (step.assignee_user_id, "a user", "the user"),
        kind.QUEUE: (step.assignee_queue_id, "a queue", "the queue"),
        kind.GROUP: (step.assignee_group_id, "a group", "the group"),
        kind.EXPRESSION: (
            step.assignee_expression.strip(),
            "an expression",
            "the expression",
        ),
    }
    if not step.assignee_type:
        yield (
            f"Interactive step {_name(step)} has no assignee; choose a user, a queue, a group, "
            "the person who started the run, or an expression."
        )
    elif step.assignee_type in missing:
        value, what, which = missing[step.assignee_type]
        if not value:
            yield f"Step {_name(step)} is assigned to {what}, but {which} is not set."


def check_background_steps(definition: Definition) -> Iterable[str]:
    known = ", ".join(registered_actions()) or "none"
    for step in definition.steps:
        if step.kind != Step.Kind.BACKGROUND:
            continue
        if not step.action:
            yield (
                f"Background step {_name(step)} has no action; choose one of the known "
                f"actions: {known}."
            )
            continue
        action = get_action(step.action)
        if action is None:
            yield (
                f'Step {_name(step)} uses the unknown action "{step.action}"; the known '
                f"actions are: {known}."
            )
            continue
        for message in action.check_parameters(step.parameters):
            yield f"Step {_name(step)}: {message}"
        if isinstance(step.parameters, dict):
            for name, value in step.parameters.items():
                # A plain string parameter is the source the message quotes: say it once.
                source = value.removeprefix("=") if isinstance(value, str) else ""
                for message in check_value(value):
                    yield _sentence(
                        f'Parameter "{name}" of step {_name(step)} is not valid: '
                        f"{_one_line(message, source)}"
                    )


def check_screen_flows(definition: Definition) -> Iterable[str]:
    with_screens = {screen.flow_id for screen in definition.screens}
    for flow in definition.flows:
        if flow.id not in with_screens:
            yield f"Screen flow {_name(flow)} has no screens; add at least one screen."


def check_fields(definition: Definition) -> Iterable[str]:
    for item in definition.fields:
        if item.type in FIELD_TYPES_WITH_CHOICES:
            yield from _choice_problems(f"Field {_field_name(item)}", item)
        if item.type in (Field.Type.INTEGER, Field.Type.DECIMAL):
            yield from _number_problems(f"Field {_field_name(item)}", item)


def _number_problems(where: str, item: Field) -> Iterable[str]:
    if item.type == Field.Type.DECIMAL:
        if not 1 <= item.max_digits <= MAX_DECIMAL_DIGITS:
            yield (
                f"{where} allows {item.max_digits} digits; choose between 1 and "
                f"{MAX_DECIMAL_DIGITS}."
            )
        elif item.decimal_places > item.max_digits:
            yield (
                f"{where} has {item.decimal_places} digits after the point but only "
                f"{item.max_digits} in all; allow more digits or fewer after the point."
            )
    low, high = item.min_value, item.max_value
    if low is not None and high is not None and low > high:
        yield f"{where} has a smallest answer larger than its largest; swap them."
    if item.type == Field.Type.INTEGER and any(
        bound is not None and not INT64_MIN <= bound <= INT64_MAX for bound in (low, high)
    ):
        yield (
            f"{where} has a bound expressions cannot hold; whole numbers go from "
            f"{INT64_MIN:,} to {INT64_MAX:,}."
        )


def _choice_problems(where: str, item: Field) -> Iterable[str]:
    choices = item.choices
    if not isinstance(choices, list) or not choices:
        yield (
            f"{where} is a {item.get_type_display().lower()} field but has no choices; add "
            'them as a list of {"value": ..., "label": ...}.'
        )
        return
    values = []
    for choice in choices:
        value = choice.get("value") if isinstance(choice, dict) else choice
        if value in (None, "") or isinstance(value, dict | list):
            yield f'{where} has a choice without a value; each choice needs a "value".'
            return
        values.append(str(value))
    for value in _duplicates(values):
        yield f'{where} offers the choice "{value}" twice; each choice needs its own value.'


def check_separation_of_duties(definition: Definition) -> Iterable[str]:
    edges = {step.id: [d.id for d in definition.depends_on[step.id]] for step in definition.steps}
    for step in definition.steps:
        named = list(step.exclude_completers_of.all())
        if not (step.exclude_starter or named):
            continue
        if step.kind != Step.Kind.INTERACTIVE:
            yield (
                f"Background step {_name(step)} excludes people, but no person completes it; "
                "remove the exclusions."
            )
            continue
        if step.exclude_starter and step.assignee_type == Step.AssigneeType.STARTER:
            yield (
                f"Step {_name(step)} is for the person who started the run but also excludes "
                "them; choose another assignee or remove the exclusion."
            )
        before = _reachable_from(step.id, edges)
        for other in named:
            earlier = other.stage.position < step.stage.position or (
                other.stage_id == step.stage_id and other.id in before
            )
            if other.version_id != step.version_id or not earlier or other.id == step.id:
                yield (
                    f"Step {_name(step)} excludes whoever completed {_name(other)}, which does "
                    "not come before it; name only steps of earlier stages, or steps of its "
                    "own stage it depends on."
                )
            elif other.kind != Step.Kind.INTERACTIVE:
                yield (
                    f"Step {_name(step)} excludes whoever completed {_name(other)}, a "
                    "background step that no person completes; remove it from the exclusions."
                )


def check_confidential_fields(definition: Definition) -> Iterable[str]:
    for item in definition.fields:
        readers = list(item.visible_to_steps.all())
        if readers and not item.confidential:
            yield (
                f"Field {_field_name(item)} names steps that may see it but is not "
                "confidential, so everyone sees it; tick Confidential or remove the steps."
            )
        for reader in readers:
            if reader.version_id != definition.version.id:
                yield (
                    f"Field {_field_name(item)} may be seen by step {_name(reader)} of another "
                    "version; choose steps of this version."
                )


CHECKS: tuple[Callable[[Definition], Iterable[str]], ...] = (
    check_has_stages,
    check_stages_have_steps,
    check_duplicate_keys,
    check_reserved_step_keys,
    check_steps_belong_to_the_version,
    check_dependencies_in_same_stage,
    check_dependency_cycles,
    check_conditions,
    check_routes,
    check_interactive_steps,
    check_background_steps,
    check_screen_flows,
    check_fields,
    check_separation_of_duties,
    check_confidential_fields,
)
