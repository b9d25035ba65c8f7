"""Copies a version's whole definition tree into a new draft ("New draft from this version")."""

from django.db import models, transaction
from django.db.models import Max

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


def copy_version(version: OrchestrationVersion) -> OrchestrationVersion:
    """Create a draft numbered after the orchestration's highest version, holding a copy of
    every screen flow, screen, field, stage, route and step of `version` (references remapped
    to the copies); `version` itself is not changed. One transaction, one insert per table."""
    with transaction.atomic():
        # Lock the orchestration so that two copies made at once get different numbers.
        orchestration = Orchestration.objects.select_for_update().get(pk=version.orchestration_id)
        highest = orchestration.versions.aggregate(highest=Max("number"))["highest"] or 0
        draft = OrchestrationVersion.objects.create(
            orchestration=orchestration,
            number=highest + 1,
            status=OrchestrationVersion.Status.DRAFT,
            notes=f"Made from version {version.number}.",
        )

        flows = _copy_all(ScreenFlow.objects.filter(version=version), version_id=draft.id)
        screens = _copy_all(Screen.objects.filter(flow__version=version), flow_id=flows)
        _copy_all(Field.objects.filter(screen__flow__version=version), screen_id=screens)
        stages = _copy_all(Stage.objects.filter(version=version), version_id=draft.id)
        _copy_all(
            StageRoute.objects.filter(stage__version=version),
            stage_id=stages,
            target_stage_id=stages,
        )
        steps = _copy_all(
            Step.objects.filter(version=version),
            version_id=draft.id,
            stage_id=stages,
            screen_flow_id=flows,
        )
        Through = Step.depends_on.through
        Through.objects.bulk_create(
            Through(from_step_id=steps[link.from_step_id], to_step_id=steps[link.to_step_id])
            for link in Through.objects.filter(from_step__version=version).order_by("id")
            # A dependency on a step of another version (invalid anyway) cannot be remapped.
            if link.to_step_id in steps
        )
    return draft


def _copy_all(queryset: models.QuerySet, **remap: int | dict[int, int]) -> dict[int, int]:
    """Insert a copy of every row of `queryset` and return {original id: copy id}.

    Each keyword names a foreign key column: an int sets it on every copy, a dict maps the
    original's value to the copy's (a value it does not hold, such as a reference to another
    version, or None, is kept as it is).
    """
    originals = list(queryset.order_by("pk"))
    copies = []
    for original in originals:
        values = {
            field.attname: getattr(original, field.attname)
            for field in original._meta.concrete_fields
            if not field.primary_key
        }
        for column, change in remap.items():
            if isinstance(change, dict):
                values[column] = change.get(values[column], values[column])
            else:
                values[column] = change
        copies.append(type(original)(**values))
    # bulk_create skips save(): fine here, the rows belong to the new draft.
    queryset.model.objects.bulk_create(copies)
    return {original.pk: copy.pk for original, copy in zip(originals, copies, strict=True)}
