"""Answers as people read them: one formatter for every page that shows a step's outputs.

The run page (`runs`) and a work item's earlier answers (`workitems`) both show what a person
answered in a screen flow; they read the same because they call the same functions here: a
decimal is "85,000.00", yes/no is "Yes" or "No", a choice shows its label, a person their
name, a date "1 Mar 2026". Templates escape the text like any other.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.formats import date_format

from orchestrator.models import Field
from orchestrator.plan import VersionPlan
from runs.models import StepRun

T = Field.Type
EMPTY = "—"


def person_label(user) -> str:
    """A person as the pages name them: full name, else username."""
    return user.get_full_name() or user.get_username()


def fields_of(plan: VersionPlan, step) -> list[Field]:
    """The fields of a step's screen flow, in screen and field order (from the plan's cache)."""
    flow = plan.screen_flows.get(step.screen_flow_id) if step.screen_flow_id else None
    if flow is None:
        return []
    return [field for screen in flow.screens.all() for field in screen.fields.all()]


def hidden_answers(plan: VersionPlan, *, reader_step_id: int | None) -> dict[int, frozenset[str]]:
    """The confidential answers that the people of step `reader_step_id` may not see, as
    {step id: field keys}: every confidential field whose readers (its own step, the steps it
    names; `plan.confidential_readers`) do not include that step. None reads for nobody
    in particular (a participant), who sees no confidential answer. Only display is limited:
    expressions see every answer."""
    if not plan.confidential_readers:
        return {}
    hidden: dict[int, set[str]] = {}
    for step in plan.steps.values():
        for field in fields_of(plan, step):
            readers = plan.confidential_readers.get(field.id)
            if readers is not None and reader_step_id not in readers:
                hidden.setdefault(step.id, set()).add(field.key)
    return {step_id: frozenset(keys) for step_id, keys in hidden.items()}


def without_hidden(outputs: dict[str, Any], keys: frozenset[str] | None) -> dict[str, Any]:
    """A step's outputs without the hidden keys (all of them when none is hidden)."""
    if not keys:
        return outputs
    return {key: value for key, value in outputs.items() if key not in keys}


def visible_data(
    plan: VersionPlan, data: dict[str, Any], *, reader_step_id: int | None
) -> dict[str, Any]:
    """The run data for what step `reader_step_id` shows people (its instructions, its
    defaults, an email it sends): the confidential answers it may not see are left out, also
    from the related record a step created from them."""
    hidden = hidden_answers(plan, reader_step_id=reader_step_id)
    if not hidden:
        return data
    shown = dict(data)
    for step_id, keys in hidden.items():
        step = plan.steps[step_id]
        shown[step.key] = without_hidden(data.get(step.key) or {}, keys)
        if step.creates_record_id and isinstance(data.get("record"), dict):
            shown["record"] = without_hidden(shown["record"], keys)
    return shown


def people_in_answers(plan: VersionPlan, step_runs: Iterable[StepRun]) -> dict[int, str]:
    """The people picked in person fields of the step runs' outputs, by id: one query, or none
    when nobody was picked."""
    ids = set()
    for step_run in step_runs:
        for field in fields_of(plan, plan.steps[step_run.step_id]):
            value = step_run.outputs.get(field.key)
            if field.type == T.USER and isinstance(value, int) and not isinstance(value, bool):
                ids.add(value)
    if not ids:
        return {}
    return {user.pk: person_label(user) for user in get_user_model().objects.filter(pk__in=ids)}


def answers(
    fields: list[Field], outputs: dict[str, Any], people: dict[int, str]
) -> list[tuple[str, str]]:
    """What a person answered, as (field label, text), in the screen flow's order; outputs
    that no field names (an older version's, or added by an action) follow by their keys."""
    result = []
    for field in fields:
        if field.key in outputs:
            result.append((field.label, display_answer(field, outputs[field.key], people)))
    known = {field.key for field in fields}
    for key, value in outputs.items():
        if key not in known:
            result.append((key.replace("_", " ").capitalize(), display_value(value)))
    return result


def display_answer(field: Field, value: Any, people: dict[int, str]) -> str:
    """One answer to a field, as a person reads it."""
    if _is_empty(value):
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    labels = dict(field.choice_pairs)
    if field.type == T.MULTIPLE_CHOICE and isinstance(value, list):
        return ", ".join(labels.get(str(item), str(item)) for item in value)
    if field.type in (T.CHOICE, T.DECISION):
        return labels.get(str(value), display_value(value))
    if field.type == T.USER and isinstance(value, int):
        return people.get(value, f"user {value}")
    if field.type == T.DECIMAL and isinstance(value, int | float):
        return f"{value:,.2f}"
    if field.type == T.DATE:
        try:
            return date_format(datetime.date.fromisoformat(str(value)), "j M Y")
        except ValueError:
            return str(value)
    if field.type == T.DATETIME:
        try:
            moment = datetime.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return date_format(moment, "j M Y H:i")
    return display_value(value)


def display_value(value: Any) -> str:
    """Any JSON value without a field to say what it is (event details, extra outputs)."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if _is_empty(value):
        return EMPTY
    if isinstance(value, list):
        return ", ".join(display_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {display_value(item)}" for key, item in value.items())
    return str(value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
