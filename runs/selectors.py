"""Reads of the run history dashboard: the run list, status counts, chart figures and usage.

Every function here runs a fixed number of queries whatever the number of runs, and
aggregates in SQL. Counts are capped (COUNT_CAP): past it the page says "10,000+" instead of
counting a million rows on every load. Percentiles use PostgreSQL's `percentile_cont`; on
SQLite (the embedded default) they are computed in Python from a bounded sample of the
latest rows, with the same linear interpolation.

Work items live in the `workitems` app, which imports `runs`; to keep imports pointing one
way, their model is looked up by name (`apps.get_model`) when a query needs it.
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from orchestrator.models import Orchestration, Stage, Step
from orchestrator.plan import load_plan
from runs.engine import run_data
from runs.models import Run, RunEvent, StageRun, StepRun

COUNT_CAP = 10_000
PAGE_SIZE = 50
# Deep pages cost an OFFSET scan; past the cap the page asks for narrower filters instead.
MAX_PAGE = COUNT_CAP // PAGE_SIZE
CHART_DAYS = 30
MAX_CHART_DAYS = 366
# SQLite has no percentile_cont: this many of the latest rows are summarised in Python.
SAMPLE_SIZE = 5_000
LONGEST_WAITS = 10


def _work_item_model():
    return apps.get_model("workitems", "WorkItem")


# Filters and the run list -------------------------------------------------------------------


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
        """The run statuses these filters can match. Open work items exist only in running
        and failed runs (finishing or cancelling a run closes them), and a failed step only
        in a failed run (a failing step fails its run; retry, skip and cancel move it on).
        Saying so lets PostgreSQL start from the few running or failed runs instead of
        probing a million finished ones."""
        statuses = set(Run.Status.values)
        if self.overdue:
            statuses &= {Run.Status.RUNNING, Run.Status.FAILED}
        if self.failed:
            statuses &= {Run.Status.FAILED}
        return statuses


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered_runs(filters: RunFilters, *, with_status: bool = True) -> QuerySet[Run]:
    """The runs the filters select (without the status filter for the status counts)."""
    runs = Run.objects.all()
    if filters.orchestration is not None:
        runs = runs.filter(orchestration=filters.orchestration)
    if filters.started_from:
        runs = runs.filter(started_at__gte=_day_start(filters.started_from))
    if filters.started_to:
        end = filters.started_to + datetime.timedelta(days=1)
        runs = runs.filter(started_at__lt=_day_start(end))
    if filters.overdue:
        overdue = _work_item_model().objects.filter(
            run=OuterRef("pk"), status="open", due_at__lt=timezone.now()
        )
        runs = runs.filter(Exists(overdue))
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


# Duration statistics ------------------------------------------------------------------------


class Seconds(Func):
    """A PostgreSQL interval as seconds (double precision)."""

    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"
    output_field = FloatField()


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between the nearest rows)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont in Python: values must be sorted."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    lower = math.floor(position)
    upper = math.ceil(position)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)


@dataclass
class DurationStats:
    group: tuple
    count: int
    mean: float | None
    median: float | None
    p90: float | None


def duration_stats(
    queryset: QuerySet,
    group_by: tuple[str, ...],
    *,
    start: str,
    end: str,
    now: datetime.datetime | None = None,
    in_python: bool | None = None,
) -> list[DurationStats]:
    """Count, mean, median and 90th percentile (seconds) of `end - start` per group, in one
    query. With `now`, a row whose end is empty (still open) counts up to now.
    `in_python` (the default on SQLite) summarises the latest SAMPLE_SIZE rows in Python."""
    if in_python is None:
        in_python = connection.vendor != "postgresql"
    if in_python:
        return _duration_stats_in_python(queryset, group_by, start=start, end=end, now=now)
    end_expression = Coalesce(F(end), Value(now)) if now is not None else F(end)
    seconds = Seconds(ExpressionWrapper(end_expression - F(start), output_field=DurationField()))
    rows = (
        queryset.values(*group_by)
        .annotate(
            count=Count("*"),
            mean=Avg(seconds),
            median=PercentileCont(seconds, 0.5),
            p90=PercentileCont(seconds, 0.9),
        )
        .order_by()
    )
    return [
        DurationStats(
            group=tuple(row[name] for name in group_by),
            count=row["count"],
            mean=row["mean"],
            median=row["median"],
            p90=row["p90"],
        )
        for row in rows
    ]


def _duration_stats_in_python(queryset, group_by, *, start, end, now) -> list[DurationStats]:
    rows = queryset.order_by("-pk").values_list(*group_by, start, end)[:SAMPLE_SIZE]
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for *group, began, ended in rows:
        ended = ended or now
        if began is not None and ended is not None:
            grouped[tuple(group)].append((ended - began).total_seconds())
    result = []
    for group, durations in grouped.items():
        durations.sort()
        result.append(
            DurationStats(
                group=group,
                count=len(durations),
                mean=sum(durations) / len(durations),
                median=percentile(durations, 0.5),
                p90=percentile(durations, 0.9),
            )
        )
    return result


def _unit(seconds: list[float | None]) -> tuple[str, float]:
    """A readable unit for a chart of durations: minutes, hours or days."""
    largest = max((value for value in seconds if value is not None), default=0)
    if largest >= 2 * 86400:
        return "days", 86400.0
    if largest >= 2 * 3600:
        return "hours", 3600.0
    return "minutes", 60.0


def _scaled(value: float | None, divisor: float) -> float | None:
    return None if value is None else round(value / divisor, 2)


# Charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartWindow:
    start: datetime.date
    end: datetime.date  # inclusive

    @property
    def days(self) -> list[datetime.date]:
        count = (self.end - self.start).days + 1
        return [self.start + datetime.timedelta(days=n) for n in range(count)]

    @property
    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        return _day_start(self.start), _day_start(self.end + datetime.timedelta(days=1))


def chart_window(filters: RunFilters, today: datetime.date | None = None) -> ChartWindow:
    """The days the charts cover: the "started between" filter, else the last 30 days."""
    end = filters.started_to or today or timezone.localdate()
    start = filters.started_from or end - datetime.timedelta(days=CHART_DAYS - 1)
    if (end - start).days >= MAX_CHART_DAYS:
        start = end - datetime.timedelta(days=MAX_CHART_DAYS - 1)
    return ChartWindow(start=start, end=end)


@dataclass
class Charts:
    window: ChartWindow
    per_day: dict[str, list]
    cycle_times: dict[str, Any]
    stage_durations: dict[str, Any]
    longest_waits: dict[str, Any]
    # SQLite: percentiles come from the latest SAMPLE_SIZE rows.
    sampled: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "perDay": self.per_day,
            "cycleTimes": self.cycle_times,
            "stageDurations": self.stage_durations,
            "longestWaits": self.longest_waits,
        }


def runs_per_day(filters: RunFilters, window: ChartWindow) -> dict[str, list]:
    """Runs started and runs completed on each day of the window (two grouped queries)."""
    start, end = window.bounds
    runs = Run.objects.order_by()
    if filters.orchestration is not None:
        runs = runs.filter(orchestration=filters.orchestration)
    started = dict(
        runs.filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    completed = dict(
        runs.filter(status=Run.Status.COMPLETED, finished_at__gte=start, finished_at__lt=end)
        .annotate(day=TruncDate("finished_at"))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    days = window.days
    return {
        "labels": [day.isoformat() for day in days],
        "started": [started.get(day, 0) for day in days],
        "completed": [completed.get(day, 0) for day in days],
    }


def cycle_times(filters: RunFilters, window: ChartWindow) -> dict[str, Any]:
    """Median and 90th percentile of start-to-finish time of the runs completed in the
    window, per orchestration."""
    start, end = window.bounds
    runs = Run.objects.filter(
        status=Run.Status.COMPLETED, finished_at__gte=start, finished_at__lt=end
    )
    if filters.orchestration is not None:
        runs = runs.filter(orchestration=filters.orchestration)
    stats = sorted(
        duration_stats(runs, ("orchestration__name",), start="started_at", end="finished_at"),
        key=lambda row: row.group,
    )
    unit, divisor = _unit([row.p90 for row in stats])
    return {
        "unit": unit,
        "labels": [row.group[0] for row in stats],
        "runs": [row.count for row in stats],
        "median": [_scaled(row.median, divisor) for row in stats],
        "p90": [_scaled(row.p90, divisor) for row in stats],
    }


def stage_durations(filters: RunFilters, window: ChartWindow) -> dict[str, Any]:
    """Mean and 90th percentile duration of each stage, over the stage runs completed in
    the window. Grouped by stage in SQL (narrow keys, an index-only scan); the labels of the
    few stages are read afterwards."""
    start, end = window.bounds
    stage_runs = StageRun.objects.filter(
        status=StageRun.Status.COMPLETED,
        finished_at__gte=start,
        finished_at__lt=end,
        started_at__isnull=False,
    )
    if filters.orchestration is not None:
        stage_runs = stage_runs.filter(stage__version__orchestration=filters.orchestration)
    stats = duration_stats(stage_runs, ("stage_id",), start="started_at", end="finished_at")
    names = {
        row["pk"]: row
        for row in Stage.objects.filter(pk__in=[row.group[0] for row in stats]).values(
            "pk", "label", "position", "version__orchestration__name"
        )
    }

    def order(row):
        stage = names[row.group[0]]
        return (stage["version__orchestration__name"], stage["position"], stage["label"])

    stats = sorted((row for row in stats if row.group[0] in names), key=order)
    return _duration_chart(stats, names, filters)


def longest_waits(
    filters: RunFilters, window: ChartWindow, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """The steps where runs spend longest: from a step run's start to its finish (or to now
    while it still waits), over the step runs started in the window; the top ten by mean.
    Grouped by step in SQL; the labels of the few steps are read afterwards."""
    now = now or timezone.now()
    start, end = window.bounds
    step_runs = StepRun.objects.filter(started_at__gte=start, started_at__lt=end)
    if filters.orchestration is not None:
        step_runs = step_runs.filter(step__version__orchestration=filters.orchestration)
    stats = duration_stats(step_runs, ("step_id",), start="started_at", end="finished_at", now=now)
    names = {
        row["pk"]: row
        for row in Step.objects.filter(pk__in=[row.group[0] for row in stats]).values(
            "pk", "label", "version__orchestration__name"
        )
    }
    stats = [row for row in stats if row.group[0] in names]
    stats = sorted(stats, key=lambda row: (-(row.mean or 0), row.group))[:LONGEST_WAITS]
    return _duration_chart(stats, names, filters)


def _duration_chart(stats, names: dict, filters: RunFilters) -> dict[str, Any]:
    """Chart data for duration stats grouped by a stage or a step: labels (with the
    orchestration's name when the chart covers all of them), counts, mean and p90."""
    unit, divisor = _unit([row.p90 for row in stats])
    labels = []
    for row in stats:
        named = names[row.group[0]]
        labels.append(
            named["label"]
            if filters.orchestration is not None
            else f"{named['version__orchestration__name']}: {named['label']}"
        )
    return {
        "unit": unit,
        "labels": labels,
        "count": [row.count for row in stats],
        "mean": [_scaled(row.mean, divisor) for row in stats],
        "p90": [_scaled(row.p90, divisor) for row in stats],
    }


def charts(filters: RunFilters, today: datetime.date | None = None) -> Charts:
    window = chart_window(filters, today)
    return Charts(
        window=window,
        per_day=runs_per_day(filters, window),
        cycle_times=cycle_times(filters, window),
        stage_durations=stage_durations(filters, window),
        longest_waits=longest_waits(filters, window),
        sampled=connection.vendor != "postgresql",
    )


# Usage ----------------------------------------------------------------------------------------


@dataclass
class UsageRow:
    month: datetime.date
    orchestration_key: str
    orchestration_name: str
    completed: int


def usage_by_month(
    *, since: datetime.date | None = None, orchestration: Orchestration | None = None
) -> list[UsageRow]:
    """Completed runs per orchestration per calendar month (by finish time), oldest first."""
    runs = Run.objects.filter(status=Run.Status.COMPLETED, finished_at__isnull=False)
    if since is not None:
        runs = runs.filter(finished_at__gte=_day_start(since))
    if orchestration is not None:
        runs = runs.filter(orchestration=orchestration)
    # Grouped by orchestration id (narrow keys, an index-only scan of run_completed); the
    # names of the few orchestrations are read afterwards.
    rows = list(
        runs.annotate(month=TruncMonth("finished_at"))
        .values("month", "orchestration_id")
        .annotate(completed=Count("*"))
        .order_by()
    )
    names = {
        row["pk"]: row
        for row in Orchestration.objects.filter(
            pk__in={row["orchestration_id"] for row in rows}
        ).values("pk", "key", "name")
    }
    result = [
        UsageRow(
            month=_as_date(row["month"]),
            orchestration_key=names[row["orchestration_id"]]["key"],
            orchestration_name=names[row["orchestration_id"]]["name"],
            completed=row["completed"],
        )
        for row in rows
    ]
    return sorted(result, key=lambda row: (row.month, row.orchestration_name))


def _as_date(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


@dataclass
class UsageTable:
    orchestrations: list[str]
    # (month, [completed per orchestration, in the order above], total)
    rows: list[tuple[datetime.date, list[int], int]]


def usage_table(rows: list[UsageRow]) -> UsageTable:
    """Usage rows as a table: a row per month, a column per orchestration, newest first."""
    names = sorted({row.orchestration_name for row in rows})
    by_month: dict[datetime.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_month[row.month][row.orchestration_name] = row.completed
    table = []
    for month in sorted(by_month, reverse=True):
        counts = [by_month[month].get(name, 0) for name in names]
        table.append((month, counts, sum(counts)))
    return UsageTable(orchestrations=names, rows=table)


def months_back(today: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months - 1` months before today's month."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return datetime.date(index // 12, index % 12 + 1, 1)


# One run: the detail page -----------------------------------------------------------------------


@dataclass
class StepRunView:
    step_run: StepRun
    step: Any  # orchestrator.models.Step from the version's plan
    answers: list[tuple[str, str]]
    work_item: Any = None  # the open work item, if any

    @property
    def can_skip(self) -> bool:
        return self.step_run.status in OPEN_STEP_STATUSES


@dataclass
class StageRunView:
    stage_run: StageRun
    stage: Any
    steps: list[StepRunView]


@dataclass
class EventView:
    event: RunEvent
    step_label: str
    details: list[tuple[str, str]]


@dataclass
class RunDetail:
    run: Run
    stages: list[StageRunView]
    failed_steps: list[StepRunView]
    open_work_items: list[Any]
    events: list[EventView]
    events_truncated: bool
    data: dict[str, Any]


OPEN_STEP_STATUSES = {
    StepRun.Status.PENDING,
    StepRun.Status.QUEUED,
    StepRun.Status.RUNNING,
    StepRun.Status.WAITING,
    StepRun.Status.FAILED,
}
MAX_EVENTS = 500


def run_for_page(run_id: int) -> Run | None:
    return (
        Run.objects.select_related("orchestration", "version", "started_by", "record_type")
        .filter(pk=run_id)
        .first()
    )


def run_detail(run: Run) -> RunDetail:
    """Everything the run page shows, in a fixed handful of queries (the version's plan is
    cached per process): stage runs, step runs, work items, events, answer users."""
    plan = load_plan(run.version_id)
    stage_runs = list(StageRun.objects.filter(run=run).order_by("id"))
    step_runs = list(StepRun.objects.filter(run=run).select_related("completed_by").order_by("id"))
    work_items = list(
        _work_item_model()
        .objects.filter(run=run)
        .select_related("step", "assignee_user", "assignee_queue", "assignee_group", "owner")
        .order_by("created_at", "id")
    )
    events = list(
        RunEvent.objects.filter(run=run).select_related("actor").order_by("-id")[: MAX_EVENTS + 1]
    )
    open_items = {item.step_run_id: item for item in work_items if item.status == "open"}
    users = _users_in_answers(plan, step_runs)
    views: dict[int, StepRunView] = {}
    for step_run in step_runs:
        step = plan.steps[step_run.step_id]
        answers = _answers(plan, step, step_run.outputs, users) if step_run.completed_by_id else []
        views[step_run.pk] = StepRunView(
            step_run=step_run, step=step, answers=answers, work_item=open_items.get(step_run.pk)
        )
    stages = []
    for stage_run in stage_runs:
        stage_run.run = run
        stages.append(
            StageRunView(
                stage_run=stage_run,
                stage=plan.stage_by_id[stage_run.stage_id].stage,
                steps=[
                    view for view in views.values() if view.step_run.stage_run_id == stage_run.pk
                ],
            )
        )
    event_views = []
    for event in events[:MAX_EVENTS]:
        view = views.get(event.step_run_id) if event.step_run_id else None
        event_views.append(
            EventView(
                event=event,
                step_label=view.step.label if view else "",
                details=[
                    (key.replace("_", " "), _display(value)) for key, value in event.data.items()
                ],
            )
        )
    return RunDetail(
        run=run,
        stages=stages,
        failed_steps=[view for view in views.values() if view.step_run.status == "failed"],
        open_work_items=[item for item in work_items if item.status == "open"],
        events=event_views,
        events_truncated=len(events) > MAX_EVENTS,
        data=run_data(run, step_runs, plan),
    )


def _fields_of(plan, step) -> list:
    flow = plan.screen_flows.get(step.screen_flow_id) if step.screen_flow_id else None
    if flow is None:
        return []
    return [field for screen in flow.screens.all() for field in screen.fields.all()]


def _users_in_answers(plan, step_runs) -> dict[int, str]:
    """The people picked in person fields of completed steps, by id (one query)."""
    ids = set()
    for step_run in step_runs:
        if not step_run.completed_by_id:
            continue
        for field in _fields_of(plan, plan.steps[step_run.step_id]):
            value = step_run.outputs.get(field.key)
            if field.type == "user" and isinstance(value, int):
                ids.add(value)
    if not ids:
        return {}
    from django.contrib.auth import get_user_model

    return {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.filter(pk__in=ids)
    }


def _answers(plan, step, outputs: dict[str, Any], users: dict[int, str]) -> list[tuple[str, str]]:
    """What a person answered, as (field label, readable value), in the screen flow's order."""
    answers = []
    seen = set()
    for field in _fields_of(plan, step):
        if field.key not in outputs:
            continue
        seen.add(field.key)
        value = outputs[field.key]
        choices = dict(field.choice_pairs)
        if field.type == "user":
            text = users.get(value, "" if value in (None, "") else f"user {value}")
        elif field.type in ("choice", "decision"):
            text = choices.get(str(value), _display(value))
        elif field.type == "multiple_choice" and isinstance(value, list):
            text = ", ".join(choices.get(str(item), str(item)) for item in value)
        else:
            text = _display(value)
        answers.append((field.label, text))
    for key, value in outputs.items():
        if key not in seen:
            answers.append((key.replace("_", " ").capitalize(), _display(value)))
    return answers


def _display(value: Any) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return ", ".join(_display(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_display(item)}" for key, item in value.items())
    return str(value)


def assignee_label(item) -> str:
    """Who a work item waits for, in words."""
    if item.owner_id:
        return _person(item.owner)
    if item.assignee_user_id:
        return _person(item.assignee_user)
    if item.assignee_queue_id:
        return f"the {item.assignee_queue.name} queue"
    if item.assignee_group_id:
        return f"the {item.assignee_group.name} group"
    return "someone (not assigned yet)"


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


# One run: the progress page for participants ------------------------------------------------------


def is_participant(run: Run, user) -> bool:
    """Whether the user took part in the run: started it, completed one of its steps, or is
    or was the assignee, owner or completer of one of its work items, directly or through a
    queue or group. One query."""
    work_items = (
        _work_item_model()
        .objects.filter(run=OuterRef("pk"))
        .filter(
            Q(assignee_user=user)
            | Q(owner=user)
            | Q(completed_by=user)
            | Q(assignee_queue__members=user)
            | Q(assignee_group__user=user)
        )
    )
    completed = StepRun.objects.filter(run=OuterRef("pk"), completed_by=user)
    return (
        Run.objects.filter(pk=run.pk)
        .filter(Q(started_by=user) | Exists(completed) | Exists(work_items))
        .exists()
    )


@dataclass
class ProgressStep:
    label: str
    status: str
    status_label: str
    waits_for: str


@dataclass
class ProgressStage:
    label: str
    status: str
    status_label: str
    iteration: int
    steps: list[ProgressStep]

    @property
    def is_current(self) -> bool:
        return self.status == StageRun.Status.ACTIVE


@dataclass
class Progress:
    run: Run
    stages: list[ProgressStage]
    waiting_for: list[tuple[str, str]]  # (step label, who)


def progress(run: Run) -> Progress:
    """The whole process in the definition's order: each stage's latest iteration with its
    steps' statuses, and who the run waits for now. No answers: participants see the shape
    of the process, not other people's data."""
    plan = load_plan(run.version_id)
    latest: dict[int, StageRun] = {}
    for stage_run in StageRun.objects.filter(run=run).order_by("id"):
        latest[stage_run.stage_id] = stage_run
    step_runs: dict[int, list[StepRun]] = defaultdict(list)
    for step_run in StepRun.objects.filter(run=run).order_by("id"):
        step_runs[step_run.stage_run_id].append(step_run)
    open_items = {
        item.step_run_id: item
        for item in _work_item_model()
        .objects.filter(run=run, status="open")
        .select_related("assignee_user", "assignee_queue", "assignee_group", "owner")
    }
    stages = []
    waiting_for = []
    for stage_plan in plan.stages:
        stage_run = latest.get(stage_plan.id)
        steps = []
        for step_run in step_runs.get(stage_run.pk, []) if stage_run else []:
            step = plan.steps[step_run.step_id]
            who = ""
            if step_run.pk in open_items:
                who = assignee_label(open_items[step_run.pk])
            elif step_run.status == StepRun.Status.FAILED:
                who = "an operator"
            if who:
                waiting_for.append((step.label, who))
            steps.append(
                ProgressStep(
                    label=step.label,
                    status=step_run.status,
                    status_label=step_run.get_status_display(),
                    waits_for=who,
                )
            )
        if stage_run is None:
            steps = [
                ProgressStep(
                    label=step.label, status="pending", status_label="Pending", waits_for=""
                )
                for step in stage_plan.steps
            ]
        status = stage_run.status if stage_run else StageRun.Status.PENDING
        stages.append(
            ProgressStage(
                label=stage_plan.stage.label,
                status=status,
                status_label=StageRun.Status(status).label,
                iteration=stage_run.iteration if stage_run else 1,
                steps=steps,
            )
        )
    return Progress(run=run, stages=stages, waiting_for=waiting_for)
