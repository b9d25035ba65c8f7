"""The run data: what expressions, templates and actions see of a run."""

from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from orchestrator.plan import VersionPlan
from runs.models import Run, StepRun


def run_data(run: Run, step_runs: Iterable[StepRun], plan: VersionPlan) -> dict[str, Any]:
    """What expressions and templates see: input, record, run, and each step's outputs under
    its key (the latest completed step run; {} for a step that has not completed)."""
    context = run.context or {}
    data: dict[str, Any] = {
        "input": context.get("input", {}),
        "record": context.get("record", {}),
        "run": {"id": run.pk, "started_by": context.get("started_by", "")},
    }
    for step in plan.steps.values():
        data[step.key] = {}
    for step_id, step_run in answering_step_runs(step_runs).items():
        data[plan.steps[step_id].key] = step_run.outputs
    return data


def answering_step_runs(step_runs: Iterable[StepRun]) -> dict[int, StepRun]:
    """The step run whose outputs the run data shows for each step, by step id: the latest
    completed one (a rework round's answers replace the earlier round's)."""
    found: dict[int, StepRun] = {}
    for step_run in sorted(step_runs, key=lambda sr: sr.pk or 0):
        if step_run.status == StepRun.Status.COMPLETED:
            found[step_run.step_id] = step_run
    return found


def record_snapshot(record: models.Model) -> dict[str, Any]:
    """The related record's fields as run data (`record.<field>`), with its id and label."""
    snapshot = model_to_dict(record)
    snapshot["id"] = record.pk
    snapshot["label"] = str(record)
    return jsonable(snapshot)


def jsonable(value):
    """`value` as JSON can store it: dates, decimals and UUIDs as Django's JSON encoder
    writes them, model instances as their primary key, anything else as its str()."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return value.pk
    try:
        return _ENCODER.default(value)
    except TypeError:
        return str(value)


_ENCODER = DjangoJSONEncoder()
