"""The dashboard's chart figures, computed on a small data set with known times."""

import datetime
import json

import pytest
from django.db import connection
from django.urls import reverse

from orchestrator.models import Orchestration, Stage, Step
from orchestrator.specs import build
from runs.models import Run, StageRun, StepRun
from runs.selectors import (
    ChartWindow,
    RunFilters,
    chart_window,
    cycle_times,
    duration_stats,
    longest_waits,
    percentile,
    runs_per_day,
    stage_durations,
)
from tests.runs.flows import background_flow, review_flow

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
TODAY = datetime.date(2026, 3, 20)
WINDOW = ChartWindow(start=datetime.date(2026, 3, 1), end=TODAY)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def hours(value: float) -> datetime.timedelta:
    return datetime.timedelta(hours=value)


def minutes(value: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=value)


def add_run(version, started, finished=None, **fields) -> Run:
    return Run.objects.create(
        version=version,
        orchestration_id=version.orchestration_id,
        status="completed" if finished else "running",
        started_at=started,
        finished_at=finished,
        **fields,
    )


@pytest.fixture
def data(assignee):
    """review: three runs completed in 1h, 2h and 4h and one still running; ledger: one
    run of 10h. Review stage runs of 10, 20, 30 and 40 minutes, Notify of 5 and 5; approval
    waits of 1h and 3h and one open since 14:00 on the 19th."""
    review = build(review_flow(reviewer=assignee))
    ledger = build(background_flow())
    runs = [
        add_run(review, at(10, 9), at(10, 10)),
        add_run(review, at(10, 12), at(10, 14)),
        add_run(review, at(11, 8), at(11, 12)),
        add_run(review, at(11, 9)),
        add_run(ledger, at(12, 0), at(12, 10)),
        # Outside the window: counted nowhere.
        add_run(
            review,
            datetime.datetime(2026, 2, 1, 9, tzinfo=UTC),
            datetime.datetime(2026, 2, 1, 19, tzinfo=UTC),
        ),
    ]
    review_stage = Stage.objects.get(version=review, key="review")
    notify_stage = Stage.objects.get(version=review, key="notify")
    approval = Step.objects.get(version=review, key="approval")
    for run, length in zip(runs[:4], (10, 20, 30, 40), strict=True):
        stage_run = StageRun.objects.create(
            run=run,
            stage=review_stage,
            status="completed",
            started_at=at(15, 9),
            finished_at=at(15, 9) + minutes(length),
        )
        if length <= 20:
            StageRun.objects.create(
                run=run,
                stage=notify_stage,
                status="completed",
                started_at=at(15, 12),
                finished_at=at(15, 12, 5),
            )
        if length <= 30:
            wait = {10: hours(1), 20: hours(3), 30: None}[length]
            StepRun.objects.create(
                run=run,
                stage_run=stage_run,
                step=approval,
                status="completed" if wait else "waiting",
                started_at=at(19, 14) if wait is None else at(16, 8),
                finished_at=at(16, 8) + wait if wait else None,
            )
    return runs


def test_runs_started_and_completed_per_day(data):
    figures = runs_per_day(RunFilters(), WINDOW)
    assert len(figures["labels"]) == 20
    assert figures["labels"][0] == "2026-03-01" and figures["labels"][-1] == "2026-03-20"
    by_day = dict(
        zip(
            figures["labels"],
            zip(figures["started"], figures["completed"], strict=True),
            strict=True,
        )
    )
    assert by_day["2026-03-10"] == (2, 2)
    assert by_day["2026-03-11"] == (2, 1)
    assert by_day["2026-03-12"] == (1, 1)
    assert sum(figures["started"]) == 5 and sum(figures["completed"]) == 4


def test_runs_per_day_of_one_orchestration(data):
    review = Orchestration.objects.get(key="review")
    figures = runs_per_day(RunFilters(orchestration=review), WINDOW)
    assert sum(figures["started"]) == 4 and sum(figures["completed"]) == 3


def test_cycle_time_median_and_90th_percentile_per_orchestration(data):
    figures = cycle_times(RunFilters(), WINDOW)
    # review: 1h, 2h, 4h -> median 2h; p90 = 2 + 0.8 * (4 - 2) = 3.6h. ledger: 10h.
    assert figures == {
        "unit": "hours",
        "labels": ["ledger", "review"],
        "runs": [1, 3],
        "median": [10.0, 2.0],
        "p90": [10.0, 3.6],
    }


def test_stage_durations_mean_and_90th_percentile(data):
    review = Orchestration.objects.get(key="review")
    figures = stage_durations(RunFilters(orchestration=review), WINDOW)
    # Review: 10, 20, 30, 40 min -> mean 25; p90 = 30 + 0.7 * 10 = 37. Notify: 5 and 5.
    assert figures == {
        "unit": "minutes",
        "labels": ["Review", "Notify"],
        "count": [4, 2],
        "mean": [25.0, 5.0],
        "p90": [37.0, 5.0],
    }


def test_steps_where_runs_wait_longest_count_open_waits_up_to_now(data):
    now = at(19, 20)  # the open approval has waited 6h by now
    figures = longest_waits(RunFilters(), WINDOW, now=now)
    # 1h, 3h, 6h -> mean 3.33h; p90 = 3 + 0.8 * 3 = 5.4h.
    assert figures == {
        "unit": "hours",
        "labels": ["review: Manager approval"],
        "count": [3],
        "mean": [3.33],
        "p90": [5.4],
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's")
def test_python_percentiles_match_postgresql(data):
    runs = Run.objects.filter(status="completed")
    args = (runs, ("orchestration__name",))
    in_sql = duration_stats(*args, start="started_at", end="finished_at", in_python=False)
    in_python = duration_stats(*args, start="started_at", end="finished_at", in_python=True)
    key = lambda row: row.group  # noqa: E731
    assert [
        (row.group, row.count, round(row.mean), round(row.median), round(row.p90))
        for row in sorted(in_sql, key=key)
    ] == [
        (row.group, row.count, round(row.mean), round(row.median), round(row.p90))
        for row in sorted(in_python, key=key)
    ]


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 4.0], 0.9) == pytest.approx(3.6)
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)


def test_the_window_is_the_start_filter_or_the_last_30_days():
    assert chart_window(RunFilters(), TODAY) == ChartWindow(datetime.date(2026, 2, 19), TODAY)
    chosen = RunFilters(started_from=datetime.date(2026, 1, 1), started_to=TODAY)
    assert chart_window(chosen, TODAY).start == datetime.date(2026, 1, 1)


def test_the_charts_partial_embeds_the_figures(client, operator, data):
    client.force_login(operator)
    response = client.get(
        reverse("runs:charts"), {"started_from": "2026-03-01", "started_to": "2026-03-20"}
    )
    html = response.content.decode()
    opening = '<script id="chart-data" type="application/json">'
    embedded = html[html.index(opening) + len(opening) : html.index("</script>")]
    assert json.loads(embedded)["cycleTimes"]["median"] == [10.0, 2.0]
    assert 'data-chart="stageDurations"' in html
