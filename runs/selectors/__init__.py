"""Reads of the run pages, one module per page:

- `list_page`: the dashboard's filters, run list and counts by status;
- `stats`: the dashboard's charts (duration statistics) and usage by month;
- `detail_page`: one run's page, for operators;
- `progress_page`: the whole process, for the people who took part.

The names the views, commands and tests use are importable from here too.
"""

from runs.selectors.detail_page import (
    MAX_EVENTS,
    RunDetail,
    StepRunView,
    run_detail,
    run_for_page,
)
from runs.selectors.list_page import (
    COUNT_CAP,
    MAX_PAGE,
    PAGE_SIZE,
    RunFilters,
    RunPage,
    StatusCount,
    filtered_runs,
    run_page,
    status_counts,
    total_display,
)
from runs.selectors.progress_page import Progress, is_participant, progress
from runs.selectors.stats import (
    SAMPLE_SIZE,
    Charts,
    ChartWindow,
    DurationStats,
    UsageRow,
    UsageTable,
    chart_window,
    charts,
    cycle_times,
    duration_stats,
    longest_waits,
    months_back,
    percentile,
    runs_per_day,
    stage_durations,
    usage_by_month,
    usage_table,
)

__all__ = [
    "COUNT_CAP",
    "MAX_EVENTS",
    "MAX_PAGE",
    "PAGE_SIZE",
    "SAMPLE_SIZE",
    "ChartWindow",
    "Charts",
    "DurationStats",
    "Progress",
    "RunDetail",
    "RunFilters",
    "RunPage",
    "StatusCount",
    "StepRunView",
    "UsageRow",
    "UsageTable",
    "chart_window",
    "charts",
    "cycle_times",
    "duration_stats",
    "filtered_runs",
    "is_participant",
    "longest_waits",
    "months_back",
    "percentile",
    "progress",
    "run_detail",
    "run_for_page",
    "run_page",
    "runs_per_day",
    "stage_durations",
    "status_counts",
    "total_display",
    "usage_by_month",
    "usage_table",
]
