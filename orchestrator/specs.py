"""Typed descriptions of an orchestration (stages, steps, routes, screens, fields) and the
builder that turns one into a version: what the demo seed and the tests share.

A description names its people and pools either by model instance (a user, a `Queue`, a
`Group`) or by name ("user:ana", "queue:it", "group:Facilities"); names are looked up when
the version is built. Labels left empty are made from the key ("new_hire" -> "New hire").
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max

from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Queue,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)

# People and pools: the model instance, or its name (a username, a group's name).
UserRef = AbstractBaseUser | str
GroupRef = Group | str
Assignee = AbstractBaseUser | Queue | Group | str


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str = ""
    type: str = Field.Type.TEXT
    required: bool = True
    choices: Sequence[tuple[str, str]] = ()  # (value, label) pairs
    default: str = ""  # CEL over the run data, e.g. "application.amount" on rework.
    help_text: str = ""
    limit_to_group: GroupRef | None = None  # A user field's choices: this group's members.
    # A confidential answer is shown only to its own step, the steps named in `visible_to`
    # (keys) and operators who view runs.
    confidential: bool = False
    visible_to: Sequence[str] = ()
    max_digits: int = 18  # A decimal field's digits in all, and after the point.
    decimal_places: int = 2
    min_value: Decimal | int | None = None  # A number field's smallest and largest answer.
    max_value: Decimal | int | None = None


@dataclass(frozen=True)
class ScreenSpec:
    title: str
    fields: Sequence[FieldSpec] = ()
    help_text: str = ""


@dataclass(frozen=True)
class StepSpec:
    """An interactive step (`assignee` and `fields` or `screens`) or, when it names an
    `action`, a background step. `assignee` is a user, a `Queue` or a `Group`, or one of
    "starter", "user:<username>", "queue:<key>", "group:<name>", "expression:<CEL>". An
    interactive step without fields or screens shows one screen with no fields."""

    key: str
    label: str = ""
    assignee: Assignee = ""
    fields: Sequence[FieldSpec] = ()
    screens: Sequence[ScreenSpec] = ()  # Instead of `fields`, for a flow of several screens.
    instructions: str = ""
    allow_reassign: bool = True
    due_in: datetime.timedelta | None = None
    remind_every: datetime.timedelta | None = None
    escalate_after: datetime.timedelta | None = None
    escalate_to: UserRef | None = None
    creates_record: str = ""  # A model label, e.g. "demo.Employee".
    action: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    max_retries: int | None = None  # None: the model's defaults, for these three.
    retry_backoff: float | None = None  # Seconds before the first retry.
    timeout: datetime.timedelta | None = None
    depends_on: Sequence[str] = ()
    entry_condition: str = ""
    # Separation of duties: the run's starter, and whoever completed these earlier steps
    # (keys), may not complete this one.
    exclude_starter: bool = False
    exclude_completers_of: Sequence[str] = ()

    @property
    def kind(self) -> str:
        return Step.Kind.BACKGROUND if self.action else Step.Kind.INTERACTIVE


@dataclass(frozen=True)
class RouteSpec:
    """After the stage: when `condition` holds (empty: always), go back (or on) to stage
    `go_to`, or end the run with the outcome `end`."""

    condition: str = ""
    go_to: str = ""
    end: str = ""
    max_repeats: int = 3


@dataclass(frozen=True)
class StageSpec:
    key: str
    label: str = ""
    steps: Sequence[StepSpec] = ()
    routes: Sequence[RouteSpec] = ()
    entry_condition: str = ""
    exit_condition: str = ""


@dataclass(frozen=True)
class OrchestrationSpec:
    key: str
    name: str = ""  # Empty: the key.
    description: str = ""
    starter_groups: Sequence[GroupRef] = ()
    stages: Sequence[StageSpec] = ()


def choice(*labels: str) -> tuple[tuple[str, str], ...]:
    """Choices whose stored value is their label ("Engineering")."""
    return tuple((label, label) for label in labels)


def decision(*choices: tuple[str, str], label: str = "Decision") -> FieldSpec:
    """A decision: one submit button per choice."""
    return FieldSpec("decision", label, Field.Type.DECISION, choices=choices)


# Pieces many orchestrations share.
APPROVE = ("approve", "Approve")
REJECT = ("reject", "Reject")
COMMENT = FieldSpec("comment", "Comment", Field.Type.LONG_TEXT, required=False)


def build(
    spec: OrchestrationSpec, *, activate: bool = True, notes: str = ""
) -> OrchestrationVersion:
    """Create the orchestration if it is new (and give it the starter groups), then a new
    version from `spec`, activated (which validates it and retires the active one) unless
    `activate` is false: then it stays a draft, e.g. for a test to break one piece of it."""
    orchestration, _ = Orchestration.objects.get_or_create(
        key=spec.key,
        defaults={"name": spec.name or spec.key, "description": spec.description},
    )
    orchestration.starter_groups.add(*(_group(group) for group in spec.starter_groups))
    version = build_version(orchestration, spec, notes=notes)
    if activate:
        version.activate()
    return version


def build_version(
    orchestration: Orchestration, spec: OrchestrationSpec, *, notes: str = ""
) -> OrchestrationVersion:
    """Create a new draft version of `orchestration` from `spec`, numbered after the last."""
    last = orchestration.versions.aggregate(last=Max("number"))["last"] or 0
    version = OrchestrationVersion.objects.create(
        orchestration=orchestration, number=last + 1, notes=notes
    )
    stages = {
        stage_spec.key: Stage.objects.create(
            version=version,
            position=position,
            key=stage_spec.key,
            label=stage_spec.label or _label(stage_spec.key),
            entry_condition=stage_spec.entry_condition,
            exit_condition=stage_spec.exit_condition,
        )
        for position, stage_spec in enumerate(spec.stages)
    }
    steps: dict[str, Step] = {}
    for stage_spec in spec.stages:
        stage = stages[stage_spec.key]
        for position, step_spec in enumerate(stage_spec.steps):
            steps[step_spec.key] = _build_step(version, stage, position, step_spec)
        for position, route in enumerate(stage_spec.routes):
            StageRoute.objects.create(
                stage=stage,
                position=position,
                condition=route.condition,
                action=StageRoute.Action.END if route.end else StageRoute.Action.GO_TO,
                target_stage=stages[route.go_to] if route.go_to else None,
                outcome=route.end,
                max_repeats=route.max_repeats,
            )
    for stage_spec in spec.stages:
        for step_spec in stage_spec.steps:
            step = steps[step_spec.key]
            if step_spec.depends_on:
                step.depends_on.set([steps[key] for key in step_spec.depends_on])
            if step_spec.exclude_completers_of:
                step.exclude_completers_of.set(
                    [steps[key] for key in step_spec.exclude_completers_of]
                )
            for field_spec in _field_specs(step_spec):
                if field_spec.visible_to:
                    asked = Field.objects.get(screen__flow=step.screen_flow, key=field_spec.key)
                    asked.visible_to_steps.set([steps[key] for key in field_spec.visible_to])
    return version


def _field_specs(spec: StepSpec) -> list[FieldSpec]:
    return [*spec.fields, *(each for screen in spec.screens for each in screen.fields)]


def _build_step(version: OrchestrationVersion, stage: Stage, position: int, spec: StepSpec) -> Step:
    step = Step(
        version=version,
        stage=stage,
        position=position,
        key=spec.key,
        label=spec.label or _label(spec.key),
        kind=spec.kind,
        entry_condition=spec.entry_condition,
    )
    if spec.kind == Step.Kind.BACKGROUND:
        step.action = spec.action
        step.parameters = spec.parameters
        if spec.max_retries is not None:
            step.max_retries = spec.max_retries
        if spec.retry_backoff is not None:
            step.retry_backoff_seconds = spec.retry_backoff
        step.timeout = spec.timeout
    else:
        _set_assignee(step, spec.assignee)
        step.screen_flow = _build_screen_flow(version, step.label, spec)
        step.instructions = spec.instructions
        step.allow_reassign = spec.allow_reassign
        step.exclude_starter = spec.exclude_starter
        step.due_in = spec.due_in
        step.remind_every = spec.remind_every
        step.escalate_after = spec.escalate_after
        if spec.escalate_to is not None:
            step.escalate_to = _user(spec.escalate_to)
    if spec.creates_record:
        model = apps.get_model(spec.creates_record)
        step.creates_record = ContentType.objects.get_for_model(model)
    step.save()
    return step


def _set_assignee(step: Step, assignee: Assignee) -> None:
    if isinstance(assignee, Queue):
        step.assignee_type, step.assignee_queue = Step.AssigneeType.QUEUE, assignee
    elif isinstance(assignee, Group):
        step.assignee_type, step.assignee_group = Step.AssigneeType.GROUP, assignee
    elif isinstance(assignee, AbstractBaseUser):
        step.assignee_type, step.assignee_user = Step.AssigneeType.USER, assignee
    else:
        kind, _, target = assignee.partition(":")
        step.assignee_type = kind
        if kind == Step.AssigneeType.USER:
            step.assignee_user = _user(target)
        elif kind == Step.AssigneeType.QUEUE:
            step.assignee_queue = Queue.objects.get(key=target)
        elif kind == Step.AssigneeType.GROUP:
            step.assignee_group = _group(target)
        elif kind == Step.AssigneeType.EXPRESSION:
            step.assignee_expression = target


def _build_screen_flow(version: OrchestrationVersion, label: str, spec: StepSpec) -> ScreenFlow:
    flow = ScreenFlow.objects.create(version=version, key=spec.key, label=label)
    screens = spec.screens or (ScreenSpec(label, spec.fields),)
    for screen_position, screen_spec in enumerate(screens):
        screen = Screen.objects.create(
            flow=flow,
            position=screen_position,
            title=screen_spec.title,
            help_text=screen_spec.help_text,
        )
        Field.objects.bulk_create(
            Field(
                screen=screen,
                position=position,
                key=field_spec.key,
                label=field_spec.label or _label(field_spec.key),
                type=field_spec.type,
                required=field_spec.required,
                choices=[{"value": value, "label": label} for value, label in field_spec.choices],
                default=field_spec.default,
                help_text=field_spec.help_text,
                limit_to_group=(
                    _group(field_spec.limit_to_group) if field_spec.limit_to_group else None
                ),
                confidential=field_spec.confidential,
                max_digits=field_spec.max_digits,
                decimal_places=field_spec.decimal_places,
                min_value=field_spec.min_value,
                max_value=field_spec.max_value,
            )
            for position, field_spec in enumerate(screen_spec.fields)
        )
    return flow


def _user(user: UserRef) -> AbstractBaseUser:
    if isinstance(user, str):
        return get_user_model().objects.get(username=user)
    return user


def _group(group: GroupRef) -> Group:
    return Group.objects.get(name=group) if isinstance(group, str) else group


def _label(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").capitalize()
