"""Work items in the admin: find one, see its state; changes go through the inbox services."""

from django.contrib import admin

from workitems.models import WorkItem


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "step",
        "orchestration",
        "run",
        "status",
        "assignee_user",
        "assignee_queue",
        "assignee_group",
        "owner",
        "due_at",
        "created_at",
    ]
    list_filter = ["status", "orchestration"]
    list_select_related = [
        "step",
        "orchestration",
        "run",
        "assignee_user",
        "assignee_queue",
        "assignee_group",
        "owner",
    ]
    search_fields = ["=id", "=run__id", "step__label", "run__title"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the table is large: no COUNT(*) of everything per page
    # Run state belongs to the engine and claims to the services: the admin only shows.
    readonly_fields = [
        "step_run",
        "run",
        "orchestration",
        "step",
        "assignee_user",
        "assignee_queue",
        "assignee_group",
        "owner",
        "status",
        "created_at",
        "due_at",
        "next_reminder_at",
        "escalate_at",
        "escalated_at",
        "draft",
        "current_screen",
        "completed_by",
        "completed_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
