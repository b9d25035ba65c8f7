"""The demo records in the admin: the employees onboarding runs created, and what payroll got."""

from django.contrib import admin

from demo.models import Employee, PayrollEntry


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = [
        "full_name",
        "email",
        "department",
        "job_title",
        "manager",
        "start_date",
        "payroll_id",
    ]
    list_filter = ["department", "start_date"]
    search_fields = ["full_name", "email", "job_title", "payroll_id"]
    list_select_related = ["manager"]
    autocomplete_fields = ["manager"]
    date_hierarchy = "start_date"
    readonly_fields = ["created_at"]


@admin.register(PayrollEntry)
class PayrollEntryAdmin(admin.ModelAdmin):
    """Read-only: these rows are what the fake payroll API received."""

    list_display = ["idempotency_key", "created_at"]
    search_fields = ["idempotency_key"]
    readonly_fields = ["idempotency_key", "payload", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
