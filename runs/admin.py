"""Runs in the admin: a read-only list with the operator actions on a selection of runs.

Each action asks for a reason on an intermediate page, then calls the engine once per step
run or run (the engine records who and why in each run's event log) and reports what it
refused, in its own words.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from runs import engine
from runs.models import Run, StepRun

# An action on more runs than this is refused: the engine locks and advances each run in
# its own transaction, and a page request should not do thousands of them.
MAX_SELECTION = 200


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept in the event log of each run.",
        error_messages={"required": "Say why, so that others can follow the runs' history."},
    )


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "orchestration",
        "title",
        "status",
        "outcome",
        "started_by",
        "started_at",
        "finished_at",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "orchestration")
    search_fields = ("=id", "title")
    list_select_related = ("orchestration", "started_by")
    # The changelist must stay fast with a million runs: no COUNT(*) of the whole table.
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-started_at", "-id")
    actions = ["retry_failed_steps", "cancel_runs"]
    fields = (
        "orchestration",
        "version",
        "title",
        "status",
        "outcome",
        "started_by",
        "started_at",
        "finished_at",
        "parent_step_run",
        "context",
    )
    readonly_fields = fields

    # Runs change only through the engine: the admin views them and acts on them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_retry_step_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("runs.retry_step")

    def has_cancel_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("runs.cancel_run")

    @admin.action(
        description="Retry the failed steps of the selected runs", permissions=["retry_step"]
    )
    def retry_failed_steps(self, request: HttpRequest, queryset: QuerySet[Run]):
        def perform(reason: str) -> tuple[int, list[str]]:
            done, refused = 0, []
            step_runs = StepRun.objects.filter(
                run__in=queryset, status=StepRun.Status.FAILED
            ).select_related("step")
            for step_run in step_runs.order_by("run_id", "id"):
                try:
                    engine.retry_step(step_run_id=step_run.pk, user=request.user, reason=reason)
                except engine.EngineError as exc:
                    refused.append(f"Run {step_run.run_id}, {step_run.step.label}: {exc}")
                else:
                    done += 1
            return done, refused

        return self._with_reason(
            request,
            queryset,
            action="retry_failed_steps",
            title="Retry the failed steps",
            explanation="Each failed step starts again from its first attempt, and its run "
            "goes on.",
            button="Retry failed steps",
            perform=perform,
            done="{count} failed step(s) are being retried.",
        )

    @admin.action(description="Cancel the selected runs", permissions=["cancel_run"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]):
        def perform(reason: str) -> tuple[int, list[str]]:
            done, refused = 0, []
            for run_id in queryset.order_by("id").values_list("id", flat=True):
                try:
                    engine.cancel_run(run_id=run_id, user=request.user, reason=reason)
                except engine.EngineError as exc:
                    refused.append(f"Run {run_id}: {exc}")
                else:
                    done += 1
            return done, refused

        return self._with_reason(
            request,
            queryset,
            action="cancel_runs",
            title="Cancel runs",
            explanation="Their open steps and work items are cancelled. This cannot be undone.",
            button="Cancel runs",
            perform=perform,
            done="{count} run(s) were cancelled.",
        )

    def _with_reason(self, request, queryset, *, action, title, explanation, button, perform, done):
        """The intermediate page: ask for the reason; on "apply" with a reason, act and go
        back to the list (returning None) with a message per refusal."""
        count = queryset.count()
        if count > MAX_SELECTION:
            self.message_user(
                request,
                f"Select at most {MAX_SELECTION} runs at a time (you selected {count}).",
                messages.ERROR,
            )
            return None
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            changed, refused = perform(form.cleaned_data["reason"])
            if changed:
                self.message_user(request, done.format(count=changed), messages.SUCCESS)
            for message in refused:
                self.message_user(request, message, messages.WARNING)
            if not changed and not refused:
                self.message_user(request, "There was nothing to do.", messages.INFO)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "explanation": explanation,
            "button": button,
            "form": form,
            "runs": queryset.select_related("orchestration").order_by("-started_at")[:50],
            "count": count,
            "action": action,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "runs/admin/confirm_action.html", context)
