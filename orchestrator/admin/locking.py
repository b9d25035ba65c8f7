"""What the designer's pages share: a part of an active or retired version is read-only, and
its choices offer only the draft's own rows."""

from django import forms
from django.contrib import admin
from django.db import models
from django.urls import reverse

from orchestrator.models import OrchestrationVersion


def version_of(obj) -> OrchestrationVersion | None:
    if obj is None or isinstance(obj, OrchestrationVersion):
        return obj
    return obj.get_version()


def is_locked(obj) -> bool:
    """True when `obj` (a version or a part of one) belongs to an active or retired version."""
    version = version_of(obj)
    return version is not None and version.pk is not None and not version.is_editable


def change_url(obj) -> str:
    return reverse(f"admin:orchestrator_{obj._meta.model_name}_change", args=[obj.pk])


class LockedWithVersion:
    """Admin permissions follow the version: nothing of an active or retired version changes.

    For a ModelAdmin `obj` is the row itself; for an inline it is the parent row. Both lead
    to the version, so one mixin serves both.
    """

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not is_locked(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not is_locked(obj)

    def has_add_permission(self, request, obj=None):
        if isinstance(self, admin.options.InlineModelAdmin):
            return super().has_add_permission(request, obj) and not is_locked(obj)
        return super().has_add_permission(request)


class DraftChoicesOnly:
    """Foreign keys to definition rows offer only rows of drafts, and only rows of the page's
    own version when the admin edits a row of a known version.

    `version_paths` maps a foreign key's name to the lookup from its target to the version
    ("" when the target is the version itself).
    """

    version_paths: dict[str, str] = {}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.version_paths:
            to_version = self.version_paths[db_field.name]
            status = f"{to_version}__status" if to_version else "status"
            queryset = db_field.related_model.objects.filter(
                **{status: OrchestrationVersion.Status.DRAFT}
            )
            version = getattr(request, "_orchestrator_version", None)
            if version is not None:
                queryset = queryset.filter(**{to_version or "pk": version.pk})
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        # Remembered for formfield_for_foreignkey: the choices of this page's selects.
        request._orchestrator_version = version_of(obj)
        return obj


def locked_note(version: OrchestrationVersion) -> str:
    return (
        f"{version.get_status_display()} versions cannot be changed; make a new draft from "
        "this version to edit it."
    )


# One-line inputs for the expressions of a row in a table (the row's own page has the
# full text areas).
ONE_LINE_TEXT = {models.TextField: {"widget": forms.TextInput(attrs={"size": 30})}}
