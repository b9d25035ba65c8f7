"""The definitions in the Django admin: a plain designer for orchestrations and their versions.

Active and retired versions are shown read-only (the model layer refuses changes anyway);
a version's page offers Validate, Activate and "New draft from this version".
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

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
from orchestrator.validation import validate_version


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


# Queues and orchestrations ------------------------------------------------------------------


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "email", "member_count"]
    search_fields = ["name", "key", "email"]
    prepopulated_fields = {"key": ["name"]}
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, queue):
        return queue.member_count


class VersionInline(admin.TabularInline):
    model = OrchestrationVersion
    fields = ["number", "status", "notes", "created_at", "activated_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Orchestration)
class OrchestrationAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "active_version_number", "version_count"]
    search_fields = ["name", "key", "description"]
    prepopulated_fields = {"key": ["name"]}
    filter_horizontal = ["starter_groups"]
    readonly_fields = ["new_version"]
    inlines = [VersionInline]

    def has_delete_permission(self, request, obj=None):
        # Deleting cascades past the versions' own delete(): keep what was ever active.
        locked = OrchestrationVersion.Status.ACTIVE, OrchestrationVersion.Status.RETIRED
        if obj is not None and obj.versions.filter(status__in=locked).exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="New version")
    def new_version(self, orchestration):
        if orchestration.pk is None:
            return "-"
        url = reverse("admin:orchestrator_orchestrationversion_add")
        return format_html(
            '<a href="{}?orchestration={}">Add an empty draft version</a> (or open a version '
            'and use "New draft from this version")',
            url,
            orchestration.pk,
        )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(version_count=Count("versions"))
            .prefetch_related(
                Prefetch(
                    "versions",
                    queryset=OrchestrationVersion.objects.filter(status="active"),
                    to_attr="active_versions",
                )
            )
        )

    @admin.display(description="Active version")
    def active_version_number(self, orchestration):
        active = orchestration.active_versions
        return f"v{active[0].number}" if active else "none"

    @admin.display(description="Versions", ordering="version_count")
    def version_count(self, orchestration):
        return orchestration.version_count


# A version and what it holds ----------------------------------------------------------------


# One-line inputs for the expressions of a row in a table (the row's own page has the
# full text areas).
ONE_LINE_TEXT = {models.TextField: {"widget": forms.TextInput(attrs={"size": 30})}}


class StageInline(LockedWithVersion, admin.TabularInline):
    model = Stage
    fields = ["position", "key", "label", "entry_condition", "exit_condition"]
    formfield_overrides = ONE_LINE_TEXT
    extra = 0
    show_change_link = True


class StepInline(LockedWithVersion, DraftChoicesOnly, admin.TabularInline):
    """The version's steps, one line each; the details are on the step's own page."""

    model = Step
    fk_name = "version"
    fields = ["position", "key", "label", "kind", "stage", "assignee", "action"]
    readonly_fields = ["assignee"]
    extra = 0
    show_change_link = True
    version_paths = {"stage": "version"}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("stage", "assignee_user", "assignee_queue", "assignee_group")
        )

    @admin.display(description="Assignee")
    def assignee(self, step):
        return describe_assignee(step)


class ScreenFlowInline(LockedWithVersion, admin.TabularInline):
    model = ScreenFlow
    fields = ["key", "label"]
    extra = 0
    show_change_link = True


def describe_assignee(step: Step) -> str:
    kind = Step.AssigneeType
    if step.kind != Step.Kind.INTERACTIVE:
        return "-"
    described = {
        kind.USER: lambda: f"user {step.assignee_user}" if step.assignee_user_id else None,
        kind.QUEUE: lambda: f"queue {step.assignee_queue}" if step.assignee_queue_id else None,
        kind.GROUP: lambda: f"group {step.assignee_group}" if step.assignee_group_id else None,
        kind.STARTER: lambda: "the person who started the run",
        kind.EXPRESSION: lambda: step.assignee_expression or None,
    }.get(step.assignee_type, lambda: None)()
    return described or "nobody yet"


@admin.register(OrchestrationVersion)
class OrchestrationVersionAdmin(LockedWithVersion, DraftChoicesOnly, admin.ModelAdmin):
    list_display = ["__str__", "orchestration", "number", "status", "created_at", "activated_at"]
    list_filter = ["status", "orchestration"]
    list_select_related = ["orchestration"]
    search_fields = ["orchestration__name", "orchestration__key", "notes"]
    readonly_fields = ["status", "created_at", "activated_at", "definition"]
    inlines = [StageInline, StepInline, ScreenFlowInline]
    actions = ["validate_selected", "activate_selected", "new_draft_from_selected"]
    change_form_template = "admin/orchestrator/orchestrationversion/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["orchestration", "number", "notes"]
        return [
            "orchestration",
            "number",
            "status",
            "notes",
            "created_at",
            "activated_at",
            "definition",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The orchestration and number of an existing version stay what they are.
        return ["orchestration", "number", *self.readonly_fields]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        orchestration_id = initial.get("orchestration")
        if orchestration_id:
            highest = (
                OrchestrationVersion.objects.filter(orchestration_id=orchestration_id)
                .order_by("-number")
                .values_list("number", flat=True)
                .first()
            )
            initial["number"] = (highest or 0) + 1
        return initial

    @admin.display(description="Definition")
    def definition(self, version):
        """Stages with their steps and routes, screen flows with their screens and fields."""
        return render_to_string("admin/orchestrator/definition_tree.html", definition_tree(version))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not obj.is_editable:
            context["locked_note"] = locked_note(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Validate, activate, new draft: buttons on the change page and actions on the list.

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/validate/",
                view(require_POST(self.validate_view)),
                name=f"{prefix}_validate",
            ),
            path(
                "<path:object_id>/activate/",
                view(require_POST(self.activate_view)),
                name=f"{prefix}_activate",
            ),
            path(
                "<path:object_id>/new-draft/",
                view(require_POST(self.new_draft_view)),
                name=f"{prefix}_new_draft",
            ),
            *super().get_urls(),
        ]

    def _version_for(self, request, object_id, *, permission) -> OrchestrationVersion:
        version = get_object_or_404(
            OrchestrationVersion.objects.select_related("orchestration"), pk=object_id
        )
        if not permission(request):
            raise PermissionDenied
        return version

    def validate_view(self, request: HttpRequest, object_id: str):
        version = self._version_for(request, object_id, permission=self.has_view_permission)
        self._validate(request, version)
        return HttpResponseRedirect(change_url(version))

    def activate_view(self, request: HttpRequest, object_id: str):
        version = self._version_for(request, object_id, permission=self._may_activate)
        self._activate(request, version)
        return HttpResponseRedirect(change_url(version))

    def new_draft_view(self, request: HttpRequest, object_id: str):
        version = self._version_for(request, object_id, permission=self._may_add)
        draft = self._new_draft(request, version)
        return HttpResponseRedirect(change_url(draft))

    def _may_activate(self, request) -> bool:
        return super().has_change_permission(request)

    def _may_add(self, request) -> bool:
        return super().has_add_permission(request)

    def _validate(self, request, version, *, prefix: str = "") -> bool:
        problems = validate_version(version)
        for problem in problems:
            messages.error(request, prefix + problem)
        if not problems:
            messages.success(request, f"{version} is valid.")
        return not problems

    def _activate(self, request, version, *, prefix: str = "") -> None:
        if version.status == OrchestrationVersion.Status.ACTIVE:
            messages.info(request, f"{prefix}{version} is already active.")
            return
        previous = version.orchestration.active_version
        try:
            version.activate()
        except ValidationError as error:
            # One message per problem (a retired version answers with VersionLocked).
            for problem in error.messages:
                messages.error(request, prefix + problem)
            return
        retired = f" Version {previous.number} was retired." if previous else ""
        messages.success(
            request,
            f"{prefix}Version {version.number} of {version.orchestration} is now active.{retired}",
        )

    def _new_draft(self, request, version) -> OrchestrationVersion:
        draft = version.new_draft()
        messages.success(
            request,
            f"Version {draft.number} of {version.orchestration} is a new draft made from "
            f"version {version.number}.",
        )
        return draft

    @admin.action(description="Validate the selected versions")
    def validate_selected(self, request, queryset):
        for version in queryset.select_related("orchestration"):
            self._validate(request, version, prefix=f"{version}: ")

    @admin.action(description="Activate the selected versions", permissions=["activate"])
    def activate_selected(self, request, queryset):
        for version in queryset.select_related("orchestration"):
            self._activate(request, version, prefix=f"{version}: ")

    def has_activate_permission(self, request):
        return self._may_activate(request)

    @admin.action(description="New draft from the selected versions", permissions=["add"])
    def new_draft_from_selected(self, request, queryset):
        drafts = [self._new_draft(request, version) for version in queryset]
        if len(drafts) == 1:
            return HttpResponseRedirect(change_url(drafts[0]))
        return None


def definition_tree(version: OrchestrationVersion) -> dict:
    """The template context of the definition summary: a few queries for the whole tree."""
    steps = (
        Step.objects.filter(version=version)
        .select_related("assignee_user", "assignee_queue", "assignee_group", "screen_flow")
        .prefetch_related("depends_on")
        .order_by("position", "id")
    )
    stages = Stage.objects.filter(version=version).prefetch_related(
        Prefetch("steps", queryset=steps, to_attr="step_list"),
        Prefetch(
            "routes",
            queryset=StageRoute.objects.select_related("target_stage").order_by("position", "id"),
            to_attr="route_list",
        ),
    )
    flows = ScreenFlow.objects.filter(version=version).prefetch_related(
        Prefetch(
            "screens",
            queryset=Screen.objects.order_by("position", "id").prefetch_related(
                Prefetch(
                    "fields",
                    queryset=Field.objects.order_by("position", "id"),
                    to_attr="field_list",
                )
            ),
            to_attr="screen_list",
        )
    )
    stage_list = list(stages.order_by("position", "id"))
    for stage in stage_list:
        stage.url = change_url(stage)
        for step in stage.step_list:
            step.url = change_url(step)
            step.assignee_text = describe_assignee(step)
            step.after = ", ".join(dep.label for dep in step.depends_on.all())
    flow_list = list(flows.order_by("label", "id"))
    for flow in flow_list:
        flow.url = change_url(flow)
        for screen in flow.screen_list:
            screen.url = change_url(screen)
            for item in screen.field_list:
                item.url = change_url(item)
    return {"stages": stage_list, "flows": flow_list}


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
    filter_horizontal = ["depends_on"]
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
        if db_field.name == "depends_on":
            version = getattr(request, "_orchestrator_version", None)
            # Steps of the same version; validation says when one is in another stage.
            kwargs["queryset"] = (
                Step.objects.filter(version=version).select_related("stage")
                if version is not None
                else Step.objects.filter(version__status=OrchestrationVersion.Status.DRAFT)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# Screen flows, screens and fields ------------------------------------------------------------


class ScreenInline(LockedWithVersion, admin.TabularInline):
    model = Screen
    fields = ["position", "title", "help_text"]
    extra = 0
    show_change_link = True


class FieldInline(LockedWithVersion, admin.TabularInline):
    model = Field
    fields = ["position", "key", "label", "type", "required", "choices", "default"]
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
    ]
    version_paths = {"screen": "flow__version"}
