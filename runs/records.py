"""The record an interactive step creates from its answers (`Step.creates_record`): the
answers whose keys name the model's fields, checked by the model's own validation before
anything is written, so that an answer the table cannot hold (201 characters for a
200-character column) is a sentence beside its field, not a database error."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


def new_record(model: type[models.Model], answers: dict[str, Any]) -> models.Model:
    """An unsaved record of `model` from the answers, validated by its `full_clean()` on the
    fields the answers fill (the others keep the model's defaults; relations are not looked
    up). Raises ValidationError,
    whose `message_dict` is keyed by answer key (NON_FIELD_ERRORS for the whole record)."""
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name not in answers:
            continue
        value = answers[field.name]
        if value in ("", None) and field.null:
            value = None
        values[field.attname if field.is_relation else field.name] = value
    record = model(**values)
    # A relation is not looked up again (a query under the run lock): a person field offers
    # only existing users, and the database's foreign key stands behind it.
    record.full_clean(
        exclude=[
            field.name
            for field in model._meta.fields
            if field.name not in answers or field.is_relation
        ]
    )
    return record


def record_errors(model: type[models.Model], answers: dict[str, Any]) -> dict[str, list[str]]:
    """What the model says about the record the answers would create, by answer key; empty
    when it would be accepted."""
    try:
        new_record(model, answers)
    except ValidationError as exc:
        return exc.message_dict
    return {}
