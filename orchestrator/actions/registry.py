"""The action registry: a key, a documented parameter schema and a function.

An action function receives its resolved parameters and an ActionContext, runs outside any
database lock, and returns a dict of outputs (stored under the step's key), or a Suspend
(wait for a timer), or a LaunchChild (start a child run). Raising any exception fails the
attempt; the engine retries with back-off up to the step's limit. External calls should
pass `context.idempotency_key` along so that a retried attempt cannot act twice.

    from orchestrator.actions import register_action, Param

    @register_action("create_ticket", params=[Param("title", str, required=True)])
    def create_ticket(params, context):
        ...
        return {"ticket_id": 42}
"""

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ActionFailed(Exception):
    """An action's own clear failure ("Payroll API answered 503"); the attempt is retried."""

    retryable = True


class InvalidParameter(ActionFailed):
    """A parameter's value that another attempt cannot change (it is made from the run
    data): the step fails at once, saying what to correct."""

    retryable = False


@dataclass(frozen=True)
class Param:
    name: str
    type: type | tuple[type, ...] = str
    required: bool = False
    help: str = ""
    # The value must be one line: it goes into a header (an email's To or Subject), where
    # a line break would start another header.
    one_line: bool = False


@dataclass
class ActionContext:
    run_id: int
    step_run_id: int
    step_key: str
    attempt: int
    data: dict[str, Any]
    # The run's related record, loaded on first use (most actions never touch it).
    load_record: Callable[[], Any] | None = None
    # Its model and primary key, known without loading it (to update it in one statement).
    record_model: type | None = None
    record_pk: str | None = None

    @functools.cached_property
    def record(self) -> Any:
        return self.load_record() if self.load_record else None

    @property
    def idempotency_key(self) -> str:
        # The same for every attempt of one step run: external systems dedupe on it.
        return f"step-run-{self.step_run_id}"


@dataclass
class Suspend:
    """Keep the step waiting until `until`, when the sweeper completes it with `outputs`."""

    until: datetime.datetime
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LaunchChild:
    """Start a run of another orchestration; with `wait`, the step waits for its outcome."""

    orchestration_key: str
    inputs: dict[str, Any] = field(default_factory=dict)
    wait: bool = False


@dataclass
class Result:
    """Outputs, plus fields of the related record the action changed (kept in the run data)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    record_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    key: str
    function: Callable[[dict[str, Any], ActionContext], Any]
    params: tuple[Param, ...]
    description: str
    # Its parameters end up in front of people (an email): confidential answers the step may
    # not see are left out of the run data they are rendered with.
    shows_answers: bool = False

    def check_parameters(self, parameters: dict[str, Any]) -> list[str]:
        """Problems with a step's parameters: unknown names, missing required ones, and
        literal values of the wrong type (expressions and templates are checked elsewhere)."""
        problems = []
        known = {param.name: param for param in self.params}
        if not isinstance(parameters, dict):
            return [f'The parameters of action "{self.key}" must be a JSON object.']
        for name in parameters:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                problems.append(
                    f'Action "{self.key}" has no parameter "{name}" (it takes: {allowed}).'
                )
        for param in self.params:
            value = parameters.get(param.name)
            if value is None:
                if param.required:
                    problems.append(f'Action "{self.key}" needs the parameter "{param.name}".')
                continue
            is_expression = isinstance(value, str) and (
                value.startswith("=") or "{{" in value or "{%" in value
            )
            if not is_expression and not isinstance(value, param.type):
                problems.append(
                    f'Parameter "{param.name}" of action "{self.key}" has the wrong type.'
                )
            # A CEL expression ("=...") may span lines; a template's line breaks are output.
            literal = not (isinstance(value, str) and value.startswith("="))
            if param.one_line and literal and _has_line_break(value):
                problems.append(
                    f'Parameter "{param.name}" of action "{self.key}" must be one line; remove '
                    "its line breaks."
                )
        return problems

    def line_broken(self, params: dict[str, Any]) -> list[str]:
        """The one-line parameters whose resolved value has a line break."""
        return [
            param.name
            for param in self.params
            if param.one_line and _has_line_break(params.get(param.name))
        ]


def _has_line_break(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_line_break(item) for item in value)
    return isinstance(value, str) and ("\r" in value or "\n" in value)


_registry: dict[str, Action] = {}


def register_action(
    key: str, *, params: list[Param] | tuple[Param, ...] = (), shows_answers: bool = False
):
    """Register `function` as the action `key`; the docstring is its description. An action
    whose parameters reach people (an email) says `shows_answers=True`: confidential answers
    are then left out of them unless its step is named to see them."""

    def decorator(function):
        _registry[key] = Action(
            key=key,
            function=function,
            params=tuple(params),
            description=(function.__doc__ or "").strip(),
            shows_answers=shows_answers,
        )
        return function

    return decorator


def get_action(key: str) -> Action | None:
    return _registry.get(key)


def registered_actions() -> dict[str, Action]:
    return dict(sorted(_registry.items()))
