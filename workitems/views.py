"""The inbox, a work item's screen flow, claim / release / reassign, and starting a run.

Views are thin: find the work item through `_get_work_item_for_user` (404 for anyone it is
not for), call one service, render. A page and its fragments are one template; an HTMX
request gets the fragment (`"workitems/work_item.html#screen"`), a plain one the page, so
everything works without JavaScript.
"""

import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from orchestrator.expressions import INT64_MAX
from orchestrator.models import Queue
from orchestrator.plan import VersionPlan
from orchestrator.templating import TemplateError, render_text
from runs import engine
from runs.answers import visible_data
from runs.views import is_run_viewer, require_operator
from workitems import queries, services
from workitems.access import (
    Role,
    can_reassign,
    can_see,
    role_of,
    startable_orchestrations,
)
from workitems.forms import ReassignForm, ScreenForm, form_data, initial_values, raw_values
from workitems.http import AuthenticatedRequest
from workitems.models import WorkItem

logger = logging.getLogger(__name__)


def _get_work_item_for_user(request: AuthenticatedRequest, pk: int) -> WorkItem:
    """The work item, if the user is its assignee, owner, a member of its queue or group, or
    staff allowed to reassign any item; otherwise 404, whatever the id."""
    item = (
        WorkItem.objects.select_related(
            "step",
            "run",
            "orchestration",
            "assignee_user",
            "assignee_queue",
            "assignee_group",
            "owner",
            "completed_by",
        )
        .filter(pk=pk)
        .first()
    )
    if item is None or not can_see(request.user, item):
        raise Http404("No such work item.")
    return item


def _redirect(request: AuthenticatedRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _forbidden(request: AuthenticatedRequest, exc: Exception) -> HttpResponse:
    return render(request, "workitems/forbidden.html", {"message": str(exc)}, status=403)


# The inbox --------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    show = request.GET.get("show", "all")
    if show not in dict(queries.SHOW_CHOICES):
        show = "all"
    sort = request.GET.get("sort", "due")
    if sort not in dict(queries.SORT_CHOICES):
        sort = "due"
    orchestration_id = _id_or_none(request.GET.get("orchestration"))
    page = queries.inbox_page(
        request.user,
        show=show,
        orchestration_id=orchestration_id,
        sort=sort,
        page_number=request.GET.get("page"),
    )
    if show == "all" and orchestration_id is None:
        request.user._workitem_open_count = page.paginator.count  # the nav's number, for free
    context = {
        "page": page,
        "show": show,
        "sort": sort,
        "orchestration_id": orchestration_id,
        "orchestrations": queries.inbox_orchestrations(request.user),
        "show_choices": queries.SHOW_CHOICES,
        "sort_choices": queries.SORT_CHOICES,
        "filtered": show != "all" or orchestration_id is not None,
    }
    template = "workitems/inbox.html"
    if _wants_fragment(request) and request.htmx.target == "inbox-list":
        template += "#list"
    response = render(request, template, context)
    # The same URL answers a page or a fragment: caches must keep the two apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _wants_fragment(request: AuthenticatedRequest) -> bool:
    """An HTMX request for part of a page (not htmx restoring a page from history)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _id_or_none(value: str | None) -> int | None:
    """A row id from a query parameter: None unless it is one the database can hold (SQLite
    raises on a larger number instead of finding nothing)."""
    number = _int_or_none(value)
    return number if number is not None and 0 < number <= INT64_MAX else None


# A work item ------------------------------------------------------------------------------


@login_required
@require_GET
def work_item(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _get_work_item_for_user(request, pk)
    return _render_work_item(request, item)


@login_required
@require_POST
def submit_screen(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Back, Next, Complete, or a decision's button: save the draft, validate, move on."""
    item = _get_work_item_for_user(request, pk)
    view = queries.run_view(item)
    screens = queries.screens_of(view.plan, view.plan.steps[item.step_id])
    index = min(max(_int_or_none(request.POST.get("_screen")) or 0, 0), max(len(screens) - 1, 0))
    # A step without screens is completed with no answers: its only button is Complete.
    fields = list(screens[index].fields.all()) if screens else []
    form = ScreenForm(fields, data=request.POST)
    if not item.is_open:
        # A stale form: say why, and keep what the user typed on screen.
        message = services.closed_message(item)
        return _render_work_item(request, item, view=view, form=form, index=index, error=message)
    values, too_long = raw_values(fields, request.POST)
    # Back keeps what was typed without validating, unless some of it cannot be kept: then
    # the screen stays, with its errors.
    back = request.POST.get("_nav") == "back" and not too_long
    try:
        if back:
            services.save_draft(
                item=item, user=request.user, screen=max(index - 1, 0), values=values
            )
            return _render_work_item(request, item, view=view, index=max(index - 1, 0))
        if not form.is_valid() or too_long:
            for key in too_long:
                if key not in form.errors:
                    form.add_error(key, "This answer is too long.")
            services.save_draft(item=item, user=request.user, screen=index, values=values)
            form.focus_first_error()
            return _render_work_item(request, item, view=view, form=form, index=index)
        if index < len(screens) - 1:
            services.save_draft(item=item, user=request.user, screen=index + 1, values=values)
            return _render_work_item(request, item, view=view, index=index + 1)
        services.save_draft(item=item, user=request.user, screen=index, values=values)
    except services.NotAllowed as exc:
        return _forbidden(request, exc)
    except services.WorkItemConflict as exc:
        return _render_work_item(request, item, view=view, form=form, index=index, error=str(exc))
    answers = {}
    for earlier_index, screen in enumerate(screens[:-1]):
        earlier_fields = list(screen.fields.all())
        earlier = ScreenForm(earlier_fields, data=form_data(earlier_fields, item.draft))
        if not earlier.is_valid():
            earlier.focus_first_error()
            return _render_work_item(
                request,
                item,
                view=view,
                form=earlier,
                index=earlier_index,
                error="Please check the answers on this screen.",
            )
        answers.update(earlier.answers())
    answers.update(form.answers())
    try:
        services.complete_work_item(item=item, user=request.user, answers=answers)
    except services.NotAllowed as exc:
        return _forbidden(request, exc)
    except engine.RecordRefused as exc:
        return _show_refused_answers(request, item, view, screens, index, form, exc.errors)
    except (services.WorkItemError, engine.EngineError) as exc:
        return _render_work_item(request, item, view=view, form=form, index=index, error=str(exc))
    messages.success(
        request,
        f"Thanks — '{item.step.label}' is complete. {queries.what_happens_next(item.run_id)}",
    )
    return _redirect(request, reverse("workitems:inbox"))


def _show_refused_answers(
    request: AuthenticatedRequest,
    item: WorkItem,
    view: queries.RunView,
    screens: list,
    index: int,
    form: ScreenForm,
    errors: dict[str, list[str]],
) -> HttpResponse:
    """Show the first screen holding an answer the step's record refused, with the record's
    errors beside its fields (an earlier screen's answers come from the draft); an error on
    the record as a whole is shown above the current screen's fields."""
    fields_by_screen = [list(screen.fields.all()) for screen in screens]
    shown, refused = index, []
    for screen_index, screen_fields in enumerate(fields_by_screen):
        refused = [f.key for f in screen_fields if f.key in errors]
        if refused:
            shown = screen_index
            break
    if shown != index:
        form = ScreenForm(
            fields_by_screen[shown], data=form_data(fields_by_screen[shown], item.draft or {})
        )
    form.is_valid()
    answered = {f.key for screen_fields in fields_by_screen for f in screen_fields}
    for key, messages_of_key in errors.items():
        if key in refused or key not in answered:
            for message in messages_of_key:
                form.add_error(key if key in refused else None, message)
    form.focus_first_error()
    return _render_work_item(
        request,
        item,
        view=view,
        form=form,
        index=shown,
        error="Please check the answers on this screen.",
    )


def _render_work_item(
    request: AuthenticatedRequest,
    item: WorkItem,
    *,
    view: queries.RunView | None = None,
    form: ScreenForm | None = None,
    index: int | None = None,
    error: str = "",
) -> HttpResponse:
    view = view or queries.run_view(item)
    plan: VersionPlan = view.plan
    step = plan.steps[item.step_id]
    screens = queries.screens_of(plan, step)
    role = role_of(request.user, item)
    if index is None:
        index = item.current_screen
    index = min(max(index, 0), max(len(screens) - 1, 0))
    # What the step shows its people (instructions, defaults): no confidential answer it is
    # not named to see.
    shown = visible_data(plan, view.data, reader_step_id=step.id)
    if form is None:
        fields = list(screens[index].fields.all()) if screens else []
        form = ScreenForm(fields, initial=initial_values(fields, item.draft or {}, shown))
    # Separation of duties: a person who may not complete the step is told so, not offered
    # a form or a claim that would be refused.
    excluded = ""
    if item.is_open and role in (Role.ACTOR, Role.QUEUE_MEMBER):
        excluded = services.exclusion(item, request.user, you=True)
    context = {
        "item": item,
        "run": view.run,
        "step": step,
        "screens": screens,
        "screen": screens[index] if screens else None,
        "index": index,
        "is_last": index >= len(screens) - 1,
        "form": form,
        # Read from the form here, not in the template: there, `form.x` would find a field
        # whose key is "x" first.
        "show_form": item.is_open and role is Role.ACTOR and not excluded or form.is_bound,
        "excluded": excluded,
        "input_fields": form.input_fields(),
        "decision": form.decision,
        "decision_errors": form.decision_errors,
        "non_field_errors": form.non_field_errors(),
        "error": error,
        "role": role.value,
        "closed_message": "" if item.is_open else services.closed_message(item),
    }
    if _wants_fragment(request):
        return render(request, "workitems/work_item.html#screen", context)
    reassignable = item.is_open and can_reassign(request.user, item)
    context.update(
        {
            "instructions": _instructions(step, shown),
            "earlier": queries.earlier_answers(
                view, before=item, sees_confidential=is_run_viewer(request.user)
            ),
            "can_release": item.is_open
            and item.owner_id is not None
            and (item.owner_id == request.user.pk or reassignable),
            "can_reassign": reassignable,
            "reassign_users": services.reassignable_users(item=item, user=request.user)
            if reassignable
            else [],
            "reassign_queues": services.reassignable_queues(item=item, user=request.user)
            if reassignable
            else [],
        }
    )
    return render(request, "workitems/work_item.html", context)


def _instructions(step, data) -> str:
    """The step's instructions over the run data, as plain text (the page escapes them)."""
    if not step.instructions.strip():
        return ""
    try:
        return render_text(step.instructions, data)
    except (TemplateError, ValueError, TypeError):
        logger.exception("the instructions of step %s could not be rendered", step.pk)
        return ""


# Claim, release, reassign -----------------------------------------------------------------


@login_required
@require_POST
def claim(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _get_work_item_for_user(request, pk)
    from_inbox = request.POST.get("from") == "inbox"
    try:
        services.claim_work_item(item=item, user=request.user)
    except services.NotAllowed as exc:
        return _forbidden(request, exc)
    except (services.WorkItemConflict, services.Excluded) as exc:
        note, ok = str(exc), False
    else:
        note, ok = f"You claimed '{item.step.label}'.", True
    if from_inbox and request.htmx:
        row = queries.with_labels(WorkItem.objects.filter(pk=item.pk)).first() or item
        context = {"row": row, "note": note, "note_ok": ok}
        return render(request, "workitems/inbox.html#row", context)
    (messages.success if ok else messages.error)(request, note)
    if from_inbox and not ok:
        return redirect("workitems:inbox")
    return redirect("workitems:work_item", pk=item.pk)


@login_required
@require_POST
def release(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _get_work_item_for_user(request, pk)
    try:
        services.release_work_item(item=item, user=request.user)
    except services.NotAllowed as exc:
        return _forbidden(request, exc)
    except services.WorkItemConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"'{item.step.label}' is back in the {item.assignee_label} queue."
        )
    return redirect("workitems:work_item", pk=item.pk)


@login_required
@require_POST
def reassign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Hand the item to a person or a queue: the form posts `to` as "user:<id>" or
    "queue:<id>"."""
    item = _get_work_item_for_user(request, pk)
    kind, _, target_id = request.POST.get("to", "").partition(":")
    to_user = to_queue = None
    if kind == "user" and target_id.isdigit():
        to_user = get_user_model().objects.filter(pk=int(target_id)).first()
    elif kind == "queue" and target_id.isdigit():
        to_queue = Queue.objects.filter(pk=int(target_id)).first()
    try:
        services.reassign_work_item(
            item=item, user=request.user, to_user=to_user, to_queue=to_queue
        )
    except services.NotAllowed as exc:
        return _forbidden(request, exc)
    except services.WorkItemError as exc:
        messages.error(request, str(exc))
        return redirect("workitems:work_item", pk=item.pk)
    messages.success(request, f"'{item.step.label}' is now with {item.assignee_label}.")
    if can_see(request.user, item):
        return redirect("workitems:work_item", pk=item.pk)
    return redirect("workitems:inbox")


# Starting a run ---------------------------------------------------------------------------


@login_required
@require_GET
def start(request: AuthenticatedRequest) -> HttpResponse:
    orchestrations = startable_orchestrations(request.user).only("key", "name", "description")
    return render(request, "workitems/start.html", {"orchestrations": orchestrations})


@login_required
@require_POST
def start_run(request: AuthenticatedRequest, key: str) -> HttpResponse:
    """Start a run; if its first work item is for the user who started it (an HR form),
    go straight to it."""
    orchestration = get_object_or_404(startable_orchestrations(request.user), key=key)
    try:
        run = engine.launch(orchestration.key, started_by=request.user)
    except engine.EngineError as exc:
        messages.error(request, str(exc))
        return redirect("workitems:start")
    first = (
        WorkItem.objects.filter(run=run, status=WorkItem.Status.OPEN, assignee_user=request.user)
        .order_by("id")
        .first()
    )
    if first is not None:
        messages.success(request, f"You started '{orchestration.name}'. Fill in the form below.")
        return redirect("workitems:work_item", pk=first.pk)
    messages.success(
        request, f"You started '{orchestration.name}'. {queries.what_happens_next(run.pk)}"
    )
    return redirect("workitems:inbox")


@login_required
@require_POST
def reassign_from_run_page(request: AuthenticatedRequest, run_id: int, pk: int) -> HttpResponse:
    """An operator hands an open work item of a run to another person or queue, from the run
    page (/runs/<id>/), with a reason kept in the event log. It lives here, not in `runs`,
    because work items are this app's (`workitems -> runs`). Without the permission it is
    404 whatever the ids, as for a missing item (runs.views.require_operator)."""
    require_operator(request, "workitems.reassign_any_workitem")
    item = (
        WorkItem.objects.select_related("step", "assignee_user", "assignee_queue", "owner")
        .filter(pk=pk, run_id=run_id)
        .first()
    )
    if item is None:
        raise Http404("No such work item in this run.")
    form = ReassignForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            services.reassign_work_item(
                item=item,
                user=request.user,
                to_user=form.cleaned_data.get("user"),
                to_queue=form.cleaned_data.get("queue"),
                reason=form.cleaned_data["reason"],
            )
        except services.WorkItemError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f'"{item.step.label}" is now for {item.assignee_label}.')
    return redirect(reverse("runs:detail", args=[run_id]))
