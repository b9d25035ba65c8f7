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

from orchestrator.plan import load_plan
from runs import engine
from runs.forms import ReasonForm, RunFilterForm
from runs.kinds import get_kind
from runs.models import Run, StepRun
from runs.selectors.detail_page import Correction, run_detail, run_for_page
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


def _render_with_correction(
    request: HttpRequest, run: Run, correction: Correction
) -> HttpResponse | None:
    """The run page again with this correction form open, as it was posted (its errors
    beside their fields); None when the run no longer offers it (it is not stopped now)."""
    detail = run_detail(run)
    for index, offered in enumerate(detail.corrections):
        if offered.step_run.pk == correction.step_run.pk:
            detail.corrections[index] = correction
            return render(request, "runs/run_detail.html", {"run": run, "detail": detail})
    return None


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The whole process for anyone who took part in the run (asked of the step kinds) and
    for those who may view runs; 404 for others, so that the page does not tell outsiders
    which runs exist. Being staff is not enough: staff design orchestrations in the admin."""
    run = _get_run(run_id)
    if not (request.user.has_perm("runs.view_run") or is_participant(run, request.user)):
        raise Http404("No such run.")
    template = "runs/run_progress.html#diagram" if request.htmx else "runs/run_progress.html"
    return render(request, template, {"run": run, "progress": progress(run)})


# Operator actions ---------------------------------------------------------------------------


def require_operator(request: HttpRequest, permission: str) -> None:
    """An operator action is for staff who may view runs and hold `permission`. Everyone else
    gets 404 before any id is looked up, as for a run that does not exist: the answer must
    not tell who may not act which runs exist."""
    user = request.user
    if not (user.is_staff and user.has_perm("runs.view_run") and user.has_perm(permission)):
        raise Http404("No such run.")


def _operator_action(
    request: HttpRequest,
    run_id: int,
    act: Callable[[ReasonForm], object],
    done: str,
    form_class: type[ReasonForm] = ReasonForm,
) -> HttpResponse:
    """Read the reason, act through the engine, and go back to the run page with the
    engine's answer as a message. The caller has checked the permission."""
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
    require_operator(request, "runs.retry_step")
    step_run = _step_run_of(run_id, step_run_id)
    return _operator_action(
        request,
        run_id,
        lambda form: engine.retry_step(
            step_run_id=step_run.pk, user=request.user, reason=form.cleaned_data["reason"]
        ),
        f'"{step_run.step.label}" is being retried.',
    )


@login_required
@require_POST
def skip_step(request: HttpRequest, run_id: int, step_run_id: int) -> HttpResponse:
    require_operator(request, "runs.skip_step")
    step_run = _step_run_of(run_id, step_run_id)
    return _operator_action(
        request,
        run_id,
        lambda form: engine.skip_step(
            step_run_id=step_run.pk, user=request.user, reason=form.cleaned_data["reason"]
        ),
        f'"{step_run.step.label}" was skipped.',
    )


# Repairing a run that stopped on its own data: correct a step's answers, then retry the run.


@login_required
@require_POST
def retry_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """Take up a stopped run where it stopped (its conditions are evaluated again)."""
    require_operator(request, "runs.retry_step")
    _get_run(run_id)
    return _operator_action(
        request,
        run_id,
        lambda form: engine.retry_run(
            run_id=run_id, user=request.user, reason=form.cleaned_data["reason"]
        ),
        "The run is being retried.",
    )


@login_required
@require_POST
def correct_answers(request: HttpRequest, run_id: int, step_run_id: int) -> HttpResponse:
    """Correct a completed step's answers on a stopped run, with a reason. Answers that do
    not pass the step's form, or no reason: the page again, the errors beside their fields,
    everything typed kept."""
    require_operator(request, "runs.retry_step")
    run = _get_run(run_id)
    step_run = _step_run_of(run_id, step_run_id)
    reason_form = ReasonForm(request.POST)
    form = None
    if reason_form.is_valid():
        try:
            engine.correct_answers(
                step_run_id=step_run.pk,
                values=request.POST,
                user=request.user,
                reason=reason_form.cleaned_data["reason"],
            )
        except engine.AnswersInvalid as exc:
            form = exc.form
        except engine.EngineError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("runs:detail", args=[run_id]))
        else:
            messages.success(
                request, f'The answers of "{step_run.step.label}" were corrected. Retry to go on.'
            )
            return redirect(reverse("runs:detail", args=[run_id]))
    else:
        plan = load_plan(run.version_id)
        form = get_kind(step_run.step.kind).answers_form(plan, step_run, data=request.POST)
        if form is not None:
            form.is_valid()  # its errors too, at once
    correction = Correction(
        step_run=step_run,
        step=step_run.step,
        form=form,
        reason=request.POST.get("reason", ""),
        reason_errors=reason_form.errors.get("reason", []),
        open=True,
    )
    if form is not None and (response := _render_with_correction(request, run, correction)):
        return response
    messages.error(request, "These answers cannot be corrected now.")
    return redirect(reverse("runs:detail", args=[run_id]))


@login_required
@require_POST
def cancel_run(request: HttpRequest, run_id: int) -> HttpResponse:
    require_operator(request, "runs.cancel_run")
    _get_run(run_id)
    return _operator_action(
        request,
        run_id,
        lambda form: engine.cancel_run(
            run_id=run_id, user=request.user, reason=form.cleaned_data["reason"]
        ),
        "The run was cancelled.",
    )
