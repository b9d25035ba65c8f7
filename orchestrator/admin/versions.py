"""Queues, orchestrations and versions in the designer: a version's page offers Validate,
Activate and "New draft from this version", with its definition tree."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from orchestrator.admin.locking import (
    ONE_LINE_TEXT,
    DraftChoicesOnly,
    LockedWithVersion,
    change_url,
    locked_note,
)
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
