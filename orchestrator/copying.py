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
        fields = _copy_all(Field.objects.filter(screen__flow__version=version), screen_id=screens)
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
        # The links between rows (dependencies, separation of duties, confidential readers),
        # remapped to the copies; a link to a row of another version (invalid anyway) is not.
        _copy_links(Step.depends_on.through, "from_step_id", steps, "to_step_id", steps)
        _copy_links(Step.exclude_completers_of.through, "from_step_id", steps, "to_step_id", steps)
        _copy_links(Field.visible_to_steps.through, "field_id", fields, "step_id", steps)
    return draft


def _copy_links(
    through, left: str, left_ids: dict[int, int], right: str, right_ids: dict[int, int]
) -> None:
    """Copy the rows of a many-to-many table whose both ends were copied."""
    links = through.objects.filter(**{f"{left}__in": list(left_ids)}).order_by("id")
    through.objects.bulk_create(
        through(**{left: left_ids[link[left]], right: right_ids[link[right]]})
        for link in links.values(left, right)
        if link[right] in right_ids
    )


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
