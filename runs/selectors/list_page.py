"""The run history dashboard's list: its filters, one page of runs and the counts by status.

Every function here runs a fixed number of queries whatever the number of runs. Counts are
capped (COUNT_CAP): past it the page says "10,000+" instead of counting a million rows on
every load. What a step kind keeps beside its step runs (the "overdue" filter's due dates)
is asked of the kinds (runs/kinds.py), so the dashboard never names their rows.
"""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from orchestrator.models import Orchestration
from runs.kinds import registered_kinds
from runs.models import Run, StageRun, StepRun

COUNT_CAP = 10_000
PAGE_SIZE = 50
# Deep pages cost an OFFSET scan; past the cap the page asks for narrower filters instead.
MAX_PAGE = COUNT_CAP // PAGE_SIZE


@dataclass(frozen=True)
class RunFilters:
    orchestration: Orchestration | None = None
    status: str = ""
    started_from: datetime.date | None = None
    started_to: datetime.date | None = None
    overdue: bool = False
    failed: bool = False
    q: str = ""

    def possible_statuses(self) -> set[str]:
        """The run statuses these filters can match. An overdue step waits, and waiting
        steps exist only in running and failed runs (finishing or cancelling a run closes
        them); a failed step only in a failed run (a failing step fails its run; retry, skip
        and cancel move it on). Saying so lets PostgreSQL start from the few running or
        failed runs instead of probing a million finished ones."""
        statuses = set(Run.Status.values)
        if self.overdue:
            statuses &= {Run.Status.RUNNING, Run.Status.FAILED}
        if self.failed:
            statuses &= {Run.Status.FAILED}
        return statuses


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered_runs(filters: RunFilters, *, with_status: bool = True) -> QuerySet[Run]:
    """The runs the filters select (without the status filter for the status counts)."""
    runs = Run.objects.all()
    if filters.orchestration is not None:
        runs = runs.filter(orchestration=filters.orchestration)
    if filters.started_from:
        runs = runs.filter(started_at__gte=day_start(filters.started_from))
    if filters.started_to:
        end = filters.started_to + datetime.timedelta(days=1)
        runs = runs.filter(started_at__lt=day_start(end))
    if filters.overdue:
        runs = runs.filter(overdue_condition(timezone.now()))
    if filters.failed:
        failed = StepRun.objects.filter(run=OuterRef("pk"), status=StepRun.Status.FAILED)
        runs = runs.filter(Exists(failed))
    possible = filters.possible_statuses()
    if len(possible) < len(Run.Status.values):
        runs = runs.filter(status__in=sorted(possible))
    if filters.q:
        query = filters.q.strip().lstrip("#")
        condition = Q(title__icontains=query)
        if query.isdigit() and len(query) < 19:
            condition |= Q(pk=int(query))
        runs = runs.filter(condition)
    if with_status and filters.status:
        runs = runs.filter(status=filters.status)
    return runs


def overdue_condition(now: datetime.datetime) -> Q | Exists | Value:
    """A run with a step waiting past its due date: the step kinds' conditions, ORed. Each
    is an EXISTS served by a partial index (the interactive kind's: open work items by due
    date); with no kind to ask, no run is overdue."""
    conditions = [
        condition
        for kind in registered_kinds()
        if (condition := kind.overdue_filter(now)) is not None
    ]
    if not conditions:
        return Value(False)
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return combined


@dataclass
class RunPage:
    runs: list[Run]
    number: int
    has_previous: bool
    has_next: bool
    # Past MAX_PAGE, older runs are reached by narrowing the filters, not by paging.
    at_limit: bool

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.runs else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.runs)


def run_page(filters: RunFilters, number: int = 1) -> RunPage:
    """One page of runs, newest first, in one query: one row more than the page tells
    whether there is a next page, so there is no COUNT over the whole table."""
    number = max(1, min(number, MAX_PAGE))
    # The stage a run is in: the active one, or the one that failed.
    current_stage = (
        StageRun.objects.filter(
            run=OuterRef("pk"), status__in=[StageRun.Status.ACTIVE, StageRun.Status.FAILED]
        )
        .order_by("-id")
        .values("stage__label")[:1]
    )
    offset = (number - 1) * PAGE_SIZE
    rows = list(
        filtered_runs(filters)
        .select_related("orchestration", "version", "started_by")
        .only(
            "id",
            "title",
            "status",
            "outcome",
            "started_at",
            "finished_at",
            "orchestration__key",
            "orchestration__name",
            "version__number",
            "version__orchestration_id",
            "started_by__username",
            "started_by__first_name",
            "started_by__last_name",
        )
        .annotate(current_stage=Subquery(current_stage))
        .order_by("-started_at", "-id")[offset : offset + PAGE_SIZE + 1]
    )
    return RunPage(
        runs=rows[:PAGE_SIZE],
        number=number,
        has_previous=number > 1,
        has_next=len(rows) > PAGE_SIZE and number < MAX_PAGE,
        at_limit=len(rows) > PAGE_SIZE and number == MAX_PAGE,
    )


@dataclass
class StatusCount:
    status: str
    label: str
    count: int
    capped: bool

    @property
    def display(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


def total_display(counts: list[StatusCount]) -> str:
    """The number of runs over all statuses, "10,000+" style when a count was capped."""
    total = sum(item.count for item in counts)
    return f"{total:,}+" if any(item.capped for item in counts) else f"{total:,}"


def status_counts(filters: RunFilters, cap: int = COUNT_CAP) -> list[StatusCount]:
    """The number of runs in each status under the other filters, in one query of capped
    counts: `SELECT (SELECT COUNT(*) FROM (... LIMIT cap+1)), ...`. Each part stops after
    cap+1 rows, so the cost is bounded however many runs there are."""
    runs = filtered_runs(filters, with_status=False).order_by()
    possible = filters.possible_statuses()
    parts, params = [], []
    for index, status in enumerate(Run.Status.values):
        if status not in possible:
            parts.append("0")
            continue
        query = runs.filter(status=status).values("pk")[: cap + 1].query
        sql, part_params = query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{index})")
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return [
        StatusCount(status=value, label=label, count=min(count, cap), capped=count > cap)
        for (value, label), count in zip(Run.Status.choices, row, strict=True)
    ]
