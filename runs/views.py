"""The run history dashboard: the run list with its charts and usage, one run's page with the
operator actions, the progress page for the people who took part, and the usage CSV.

Operator actions call the engine (the only code that changes run state); the engine records
who acted and why in the run's event log.
"""

import csv
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from runs import engine
from runs.forms import ReasonForm, RunFilterForm
from runs.models import Run, StepRun
from runs.selectors.detail_page import run_detail, run_for_page
from runs.selectors.list_page import run_page, status_counts, total_display
from runs.selectors.progress_page import is_participant, progress
from runs.selectors.stats import charts, months_back, usage_by_month, usage_table

USAGE_MONTHS = 12


def is_run_viewer(user) -> bool:
    """Staff who may view runs: the dashboard's users, who also see confidential answers."""
    return user.is_staff and user.has_perm("runs.view_run")


def require_run_viewer(request: HttpRequest) -> None:
    """The dashboard is for staff who may view runs; everyone else gets 403."""
    if not is_run_viewer(request.user):
        raise PermissionDenied("The run history is for operators.")


def _filter_form(request: HttpRequest) -> RunFilterForm:
    form = RunFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    return form


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    require_run_viewer(request)
    form = _filter_form(request)
    filters = form.filters()
    counts = status_counts(filters)
    return render(
        request,
        "runs/run_list.html",
        {
            "form": form,
            "filters": filters,
            "page": run_page(filters, _page_number(request)),
            "counts": counts,
            "total": total_display(counts),
        },
    )


@login_required
@require_GET
def run_charts(request: HttpRequest) -> HttpResponse:
    """The charts and the usage table of the dashboard, loaded after the list (HTMX)."""
    require_run_viewer(request)
    filters = _filter_form(request).filters()
    today = timezone.localdate()
    usage = usage_by_month(
        since=months_back(today, USAGE_MONTHS), orchestration=filters.orchestration
    )
    return render(
        request,
        "runs/run_list.html#charts",
        {
            "filters": filters,
            "charts": charts(filters, today),
            "usage": usage_table(usage),
            "usage_months": USAGE_MONTHS,
        },
    )


@login_required
@require_GET
def usage_csv(request: HttpRequest) -> HttpResponse:
    """Completed runs per orchestration per month, all time, as CSV."""
    require_run_viewer(request)
    filters = _filter_form(request).filters()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="baton-usage.csv"'
    writer = csv.writer(response)
    writer.writerow(["month", "orchestration", "orchestration_name", "completed_runs"])
    for row in usage_by_month(orchestration=filters.orchestration):
        writer.writerow(
            [
                row.month.strftime("%Y-%m"),
                row.orchestration_key,
                row.orchestration_name,
                row.completed,
            ]
        )
    return response


def _get_run(run_id: int) -> Run:
    run = run_for_page(run_id)
    if run is None:
        raise Http404("No such run.")
    return run


@login_required
@require_GET
def run_detail_page(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run page; while the run is running, HTMX polls it for its `live` partial."""
    require_run_viewer(request)
    run = _get_run(run_id)
    template = "runs/run_detail.html#live" if request.htmx else "runs/run_detail.html"
    return render(
        request,
        template,
        {"run": run, "detail": run_detail(run)},
    )


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The whole process for anyone who took part in the run (and staff); 404 for others,
    so that the page does not tell outsiders which runs exist."""
    run = _get_run(run_id)
    if not (request.user.is_staff or is_participant(run, request.user)):
        raise Http404("No such run.")
    template = "runs/run_progress.html#diagram" if request.htmx else "runs/run_progress.html"
    return render(request, template, {"run": run, "progress": progress(run)})


# Operator actions ---------------------------------------------------------------------------


def _operator_action(
    request: HttpRequest,
    run_id: int,
    permission: str,
    act: Callable[[ReasonForm], object],
    done: str,
    form_class: type[ReasonForm] = ReasonForm,
) -> HttpResponse:
    """Check the permission, read the reason, act through the engine, and go back to the run
    page with the engine's answer as a message."""
    require_run_viewer(request)
    if not request.user.has_perm(permission):
        raise PermissionDenied("You may not do this to runs.")
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            act(form)
        except engine.EngineError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
    return redirect(reverse("runs:detail", args=[run_id]))


def _step_run_of(run_id: int, step_run_id: int) -> StepRun:
    step_run = StepRun.objects.filter(pk=step_run_id, run_id=run_id).select_related("step").first()
    if step_run is None:
        raise Http404("No such step in this run.")
    return step_run


@login_required
@require_POST
def retry_step(request: HttpRequest, run_id: int, step_run_id: int) -> HttpResponse:
    step_run = _step_run_of(run_id, step_run_id)
    return _operator_action(
        request,
        run_id,
        "runs.retry_step",
        lambda form: engine.retry_step(
            step_run_id=step_run.pk, user=request.user, reason=form.cleaned_data["reason"]
        ),
        f'"{step_run.step.label}" is being retried.',
    )


@login_required
@require_POST
def skip_step(request: HttpRequest, run_id: int, step_run_id: int) -> HttpResponse:
    step_run = _step_run_of(run_id, step_run_id)
    return _operator_action(
        request,
        run_id,
        "runs.skip_step",
        lambda form: engine.skip_step(
            step_run_id=step_run.pk, user=request.user, reason=form.cleaned_data["reason"]
        ),
        f'"{step_run.step.label}" was skipped.',
    )


@login_required
@require_POST
def cancel_run(request: HttpRequest, run_id: int) -> HttpResponse:
    _get_run(run_id)
    return _operator_action(
        request,
        run_id,
        "runs.cancel_run",
        lambda form: engine.cancel_run(
            run_id=run_id, user=request.user, reason=form.cleaned_data["reason"]
        ),
        "The run was cancelled.",
    )
