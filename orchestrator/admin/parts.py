"""Stages, routes, steps, screen flows, screens and fields of a version, each on its own page."""

from django.contrib import admin

from orchestrator.admin.locking import (
    ONE_LINE_TEXT,
    DraftChoicesOnly,
    LockedWithVersion,
    change_url,
    is_locked,
    locked_note,
    version_of,
)
from orchestrator.models import (
    Field,
    OrchestrationVersion,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)

# Stages, routes and steps on their own pages -----------------------------------------------


class RouteInline(LockedWithVersion, DraftChoicesOnly, admin.TabularInline):
    model = StageRoute
    fk_name = "stage"
    fields = ["position", "condition", "action", "target_stage", "max_repeats", "outcome"]
    formfield_overrides = ONE_LINE_TEXT
    extra = 0
    version_paths = {"target_stage": "version"}


class StageStepInline(LockedWithVersion, admin.TabularInline):
    model = Step
    fk_name = "stage"
    fields = ["position", "key", "label", "kind", "action"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        # A step needs its version too, which this inline cannot set: add it on its own page.
        return False


class VersionPartAdmin(LockedWithVersion, DraftChoicesOnly, admin.ModelAdmin):
    """Shared by every definition row's admin: read-only with an active or retired version."""

    change_form_template = "admin/orchestrator/version_part_change_form.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and is_locked(obj):
            context["locked_note"] = locked_note(version_of(obj))
            context["version_url"] = change_url(version_of(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Stage)
class StageAdmin(VersionPartAdmin):
    list_display = ["label", "key", "version", "position"]
    list_filter = ["version__orchestration", "version__status"]
    list_select_related = ["version__orchestration"]
    search_fields = ["label", "key"]
    fields = ["version", "position", "key", "label", "entry_condition", "exit_condition"]
    inlines = [StageStepInline, RouteInline]
    version_paths = {"version": ""}


@admin.register(StageRoute)
class StageRouteAdmin(VersionPartAdmin):
    list_display = ["__str__", "stage", "position", "condition"]
    list_filter = ["stage__version__orchestration"]
    list_select_related = ["stage__version__orchestration", "target_stage"]
    fields = ["stage", "position", "condition", "action", "target_stage", "max_repeats", "outcome"]
    version_paths = {"stage": "version", "target_stage": "version"}


@admin.register(Step)
class StepAdmin(VersionPartAdmin):
    list_display = ["label", "key", "kind", "stage", "version"]
    list_filter = ["kind", "version__orchestration", "version__status"]
    list_select_related = ["stage", "version__orchestration"]
    search_fields = ["label", "key", "action"]
    filter_horizontal = ["depends_on", "exclude_completers_of"]
    version_paths = {"version": "", "stage": "version", "screen_flow": "version"}
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "version",
                    "stage",
                    "position",
                    "key",
                    "label",
                    "kind",
                    "depends_on",
                    "entry_condition",
                ]
            },
        ),
        (
            "Interactive step",
            {
                "fields": [
                    "screen_flow",
                    "assignee_type",
                    "assignee_user",
                    "assignee_queue",
                    "assignee_group",
                    "assignee_expression",
                    "instructions",
                    "allow_reassign",
                    "exclude_starter",
                    "exclude_completers_of",
                    "due_in",
                    "remind_every",
                    "escalate_after",
                    "escalate_to",
                    "creates_record",
                ]
            },
        ),
        (
            "Background step",
            {"fields": ["action", "parameters", "max_retries", "retry_backoff_seconds", "timeout"]},
        ),
    ]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in ("depends_on", "exclude_completers_of"):
            # Steps of the same version; validation says when one is in another stage, or
            # does not come before this one.
            kwargs["queryset"] = steps_of_page_version(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def steps_of_page_version(request):
    """The steps a many-to-many to steps offers: the page's version's, else every draft's."""
    version = getattr(request, "_orchestrator_version", None)
    if version is not None:
        return Step.objects.filter(version=version).select_related("stage")
    return Step.objects.filter(version__status=OrchestrationVersion.Status.DRAFT)


# Screen flows, screens and fields ------------------------------------------------------------


class ScreenInline(LockedWithVersion, admin.TabularInline):
    model = Screen
    fields = ["position", "title", "help_text"]
    extra = 0
    show_change_link = True


class FieldInline(LockedWithVersion, admin.TabularInline):
    model = Field
    fields = ["position", "key", "label", "type", "required", "confidential", "choices", "default"]
    extra = 0
    show_change_link = True


@admin.register(ScreenFlow)
class ScreenFlowAdmin(VersionPartAdmin):
    list_display = ["label", "key", "version"]
    list_filter = ["version__orchestration", "version__status"]
    list_select_related = ["version__orchestration"]
    search_fields = ["label", "key"]
    fields = ["version", "key", "label"]
    inlines = [ScreenInline]
    version_paths = {"version": ""}


@admin.register(Screen)
class ScreenAdmin(VersionPartAdmin):
    list_display = ["title", "flow", "position"]
    list_filter = ["flow__version__orchestration"]
    list_select_related = ["flow"]
    search_fields = ["title", "flow__label"]
    fields = ["flow", "position", "title", "help_text"]
    inlines = [FieldInline]
    version_paths = {"flow": "version"}


@admin.register(Field)
class FieldAdmin(VersionPartAdmin):
    list_display = ["label", "key", "type", "required", "screen"]
    list_filter = ["type", "screen__flow__version__orchestration"]
    list_select_related = ["screen"]
    search_fields = ["label", "key"]
    fields = [
        "screen",
        "position",
        "key",
        "label",
        "type",
        "required",
        "help_text",
        "choices",
        "default",
        "limit_to_group",
        "confidential",
        "visible_to_steps",
        "max_digits",
        "decimal_places",
        "min_value",
        "max_value",
    ]
    filter_horizontal = ["visible_to_steps"]
    version_paths = {"screen": "flow__version"}

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "visible_to_steps":
            kwargs["queryset"] = steps_of_page_version(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
