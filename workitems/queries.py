"""Reads for the work item pages: the inbox, the run data a work item shows, what comes next.

The inbox must stay fast with 100,000 open work items: its filter is an OR of four simple
conditions, each served by one of WorkItem's partial indexes on `status = 'open'`
(assignee_user, owner, assignee_queue, assignee_group), which PostgreSQL combines with a
BitmapOr. The user's queues and groups are read first and inlined as id lists, because an
`IN (subquery)` inside an OR would defeat the indexes. A page costs a fixed number of
queries: memberships (2), count (1), the page's ids (1), those rows with their labels (1),
the orchestration choices (1).
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from orchestrator.models import Orchestration, Step
from orchestrator.plan import VersionPlan, load_plan
from runs.answers import answers, fields_of, hidden_answers, people_in_answers, without_hidden
from runs.duties import refusal
from runs.engine import run_data
from runs.models import Run, StepRun
from workitems.access import memberships
from workitems.models import WorkItem, user_label

OPEN = WorkItem.Status.OPEN
PAGE_SIZE = 25

# "mine / queues / groups" in the inbox; "all" is every one of them.
SHOW_CHOICES = [
    ("all", "All my work"),
    ("mine", "Assigned to me"),
    ("queues", "My queues"),
    ("groups", "My groups"),
]
SORT_CHOICES = [("due", "Due date"), ("oldest", "Oldest first"), ("newest", "Newest first")]
_ORDERINGS = {
    "due": [F("due_at").asc(nulls_last=True), "created_at", "id"],
    "oldest": ["created_at", "id"],
    "newest": ["-created_at", "-id"],
}
_ROW_FIELDS = [
    "id",
    "status",
    "created_at",
    "due_at",
    "run_id",
    "step_run_id",
    "orchestration_id",
    "step_id",
    "assignee_user_id",
    "assignee_queue_id",
    "assignee_group_id",
    "owner_id",
    "step__label",
    "step__exclude_starter",
    "orchestration__name",
    "run__title",
    "run__started_by",
    "assignee_user__username",
    "assignee_user__first_name",
    "assignee_user__last_name",
    "assignee_queue__name",
    "assignee_group__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
]


def visible_open(user, show: str = "all") -> Q:
    """The open work items in the user's inbox: assigned to them or claimed by them ("mine"),
    unclaimed in their queues ("queues"), assigned to their groups ("groups")."""
    mine = memberships(user)
    parts: list[Q] = []
    if show in ("all", "mine"):
        parts += [Q(assignee_user_id=user.pk), Q(owner_id=user.pk)]
    if show in ("all", "queues") and mine.queue_ids:
        parts.append(Q(assignee_queue_id__in=sorted(mine.queue_ids), owner__isnull=True))
    if show in ("all", "groups") and mine.group_ids:
        parts.append(Q(assignee_group_id__in=sorted(mine.group_ids)))
    if not parts:
        return Q(pk__in=[])
    condition = parts[0]
    for part in parts[1:]:
        condition |= part
    return Q(status=OPEN) & condition


def _visible_rows(user, *, show: str, orchestration_id: int | None) -> QuerySet:
    rows = WorkItem.objects.filter(visible_open(user, show))
    if orchestration_id:
        rows = rows.filter(orchestration_id=orchestration_id)
    return rows


def with_labels(rows: QuerySet) -> QuerySet:
    """Work items with what an inbox row shows: step, orchestration, run title, assignee,
    and whether the step names earlier steps whose completers it excludes."""
    names_earlier = Step.exclude_completers_of.through.objects.filter(
        from_step_id=OuterRef("step_id")
    )
    return (
        rows.annotate(step_names_earlier=Exists(names_earlier))
        .select_related(
            "step",
            "orchestration",
            "run",
            "assignee_user",
            "assignee_queue",
            "assignee_group",
            "owner",
        )
        .only(*_ROW_FIELDS)
    )


def inbox_page(
    user, *, show: str, orchestration_id: int | None, sort: str, page_number: Any
) -> Page:
    """One page of the inbox, in two steps: the page's ids from work items alone (served by
    the partial indexes, sorting only the user's few hundred rows), then those 25 rows with
    their labels by primary key. In one query, joined to runs, steps and users, PostgreSQL
    planned a scan of the whole table."""
    ordering = _ORDERINGS.get(sort, _ORDERINGS["due"])
    ids = _visible_rows(user, show=show, orchestration_id=orchestration_id).order_by(*ordering)
    paginator = Paginator(ids.values_list("pk", flat=True), PAGE_SIZE)
    page = paginator.get_page(page_number)
    page_ids = list(page.object_list)
    rows = {row.pk: row for row in with_labels(WorkItem.objects.filter(pk__in=page_ids)).order_by()}
    page.object_list = [rows[pk] for pk in page_ids if pk in rows]
    mark_exclusions(user, page.object_list)
    return page


def mark_exclusions(user, rows: list[WorkItem]) -> None:
    """Separation of duties in the inbox: an unclaimed queue or group row whose step the user
    may not complete gets `row.excluded`, the sentence saying why, and offers no claim. No
    query unless a row's step names earlier steps; then two."""
    offered = [row for row in rows if row.assignee_user_id is None and row.owner_id is None]
    for row in rows:
        row.excluded = ""
    for row in offered:
        if row.step.exclude_starter and row.run.started_by_id == user.pk:
            row.excluded = refusal("You", "started this run", row.step)
    naming = [row for row in offered if row.step_names_earlier and not row.excluded]
    if not naming:
        return
    Through = Step.exclude_completers_of.through
    earlier: dict[int, set[int]] = {}
    for step_id, earlier_id in Through.objects.filter(
        from_step_id__in={row.step_id for row in naming}
    ).values_list("from_step_id", "to_step_id"):
        earlier.setdefault(step_id, set()).add(earlier_id)
    completed = StepRun.objects.filter(
        run_id__in={row.run_id for row in naming},
        step_id__in=set().union(*earlier.values()),
        status=StepRun.Status.COMPLETED,
        completed_by=user,
    ).values_list("run_id", "step_id", "step__label")
    for run_id, step_id, label in completed:
        for row in naming:
            if (
                row.run_id == run_id
                and step_id in earlier.get(row.step_id, ())
                and not row.excluded
            ):
                row.excluded = refusal("You", f'completed "{label}"', row.step)


def inbox_orchestrations(user) -> QuerySet:
    """The orchestrations the user has open work in (the inbox's filter choices)."""
    with_work = WorkItem.objects.filter(visible_open(user)).values("orchestration_id")
    return Orchestration.objects.filter(pk__in=with_work).only("id", "name").order_by("name")


def open_count(user) -> int:
    """How many open work items are in the user's inbox (the number in the navigation);
    counted once per request."""
    cached = getattr(user, "_workitem_open_count", None)
    if cached is None:
        cached = WorkItem.objects.filter(visible_open(user)).count()
        user._workitem_open_count = cached
    return cached


# A work item's run -----------------------------------------------------------------------


@dataclass
class RunView:
    """A run as a work item page shows it: its plan, step runs and run data."""

    run: Run
    plan: VersionPlan
    step_runs: list[StepRun]
    data: dict[str, Any]


def run_view(item: WorkItem) -> RunView:
    run = item.run
    step_runs = list(
        StepRun.objects.filter(run_id=run.pk).select_related("completed_by").order_by("id")
    )
    plan = load_plan(run.version_id)
    return RunView(run=run, plan=plan, step_runs=step_runs, data=run_data(run, step_runs, plan))


def screens_of(plan: VersionPlan, step: Step) -> list:
    flow = plan.screen_flows.get(step.screen_flow_id)
    return list(flow.screens.all()) if flow is not None else []


@dataclass
class AnsweredStep:
    label: str
    completed_by: str
    finished_at: datetime.datetime | None
    answers: list[tuple[str, str]] = field(default_factory=list)


def earlier_answers(
    view: RunView, *, before: WorkItem, sees_confidential: bool = False
) -> list[AnsweredStep]:
    """The answers of the run's completed interactive steps, with their field labels, so that
    (say) the manager sees what HR, IT and Facilities entered. Formatted as on the run page
    (runs/answers.py). A confidential answer is left out unless the item's step is named to
    see it, or `sees_confidential` (an operator who may view runs)."""
    hidden = {} if sees_confidential else hidden_answers(view.plan, reader_step_id=before.step_id)
    completed = [
        sr
        for sr in view.step_runs
        if sr.status == StepRun.Status.COMPLETED
        and sr.pk != before.step_run_id
        and view.plan.steps[sr.step_id].kind == Step.Kind.INTERACTIVE
    ]
    completed.sort(key=lambda sr: (sr.finished_at or timezone.now(), sr.pk))
    people = people_in_answers(view.plan, completed)
    return [
        AnsweredStep(
            label=view.plan.steps[sr.step_id].label,
            completed_by=user_label(sr.completed_by) if sr.completed_by_id else "",
            finished_at=sr.finished_at,
            answers=answers(
                fields_of(view.plan, view.plan.steps[sr.step_id]),
                without_hidden(sr.outputs, hidden.get(sr.step_id)),
                people,
            ),
        )
        for sr in completed
    ]


# After completing ------------------------------------------------------------------------


def what_happens_next(run_id: int) -> str:
    """A sentence on where the run is now: what it waits for, or that it has finished."""
    run = Run.objects.only("status", "outcome").get(pk=run_id)
    if run.status == Run.Status.COMPLETED:
        if run.outcome and run.outcome != "completed":
            return f"The run is finished (outcome: {run.outcome})."
        return "The run is finished."
    if run.status == Run.Status.FAILED:
        return "The run has stopped with an error; an operator can retry it from the run page."
    if run.status == Run.Status.CANCELLED:
        return "The run was cancelled."
    items = {
        item.step_run_id: item
        for item in WorkItem.objects.filter(run_id=run_id, status=OPEN).select_related(
            "assignee_user", "assignee_queue", "assignee_group"
        )
    }
    waiting = (
        StepRun.objects.filter(
            run_id=run_id,
            status__in=[StepRun.Status.QUEUED, StepRun.Status.RUNNING, StepRun.Status.WAITING],
        )
        .select_related("step")
        .order_by("id")
    )
    parts = []
    for step_run in waiting:
        item = items.get(step_run.pk)
        who = item.assignee_label if item is not None else "automatic"
        if item is not None and item.unassigned_because:
            who = f"nobody yet: {item.unassigned_because}"
        parts.append(f"{step_run.step.label} ({who})")
    if not parts:
        return "The run is moving on."
    return f"The run now waits for: {_and_join(parts)}."


def _and_join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
