"""The dashboard's figures: duration statistics, the charts and the usage by month.

Every function here runs a fixed number of queries whatever the number of runs, and
aggregates in SQL. Percentiles use PostgreSQL's `percentile_cont`; on SQLite (the embedded
default) they are computed in Python from a bounded sample of the latest rows, with the same
linear interpolation.
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from orchestrator.models import Orchestration, Stage, Step
from runs.models import Run, StageRun, StepRun
from runs.selectors.list_page import RunFilters, day_start

CHART_DAYS = 30
MAX_CHART_DAYS = 366
# SQLite has no percentile_cont: this many of the latest rows are summarised in Python.
SAMPLE_SIZE = 5_000
LONGEST_WAITS = 10


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
        return day_start(self.start), day_start(self.end + datetime.timedelta(days=1))


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
        runs = runs.filter(finished_at__gte=day_start(since))
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
