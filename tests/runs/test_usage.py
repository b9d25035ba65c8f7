"""Usage: completed runs per orchestration per month, on the dashboard and as CSV."""

import csv
import datetime
import io

import pytest
from django.urls import reverse

from orchestrator.specs import build
from runs.models import Run
from runs.selectors import months_back, usage_by_month, usage_table
from tests.runs.flows import background_flow, review_flow

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def finished(version, *moments, status="completed"):
    for moment in moments:
        Run.objects.create(
            version=version,
            orchestration_id=version.orchestration_id,
            status=status,
            started_at=moment - datetime.timedelta(hours=1),
            finished_at=moment,
        )


@pytest.fixture
def usage(assignee):
    review = build(review_flow(reviewer=assignee))
    ledger = build(background_flow())
    finished(
        review,
        datetime.datetime(2026, 1, 5, tzinfo=UTC),
        datetime.datetime(2026, 1, 31, 23, 59, tzinfo=UTC),
        datetime.datetime(2026, 2, 1, tzinfo=UTC),
    )
    finished(ledger, datetime.datetime(2026, 2, 14, tzinfo=UTC))
    # Not completed: not counted.
    finished(ledger, datetime.datetime(2026, 2, 15, tzinfo=UTC), status="failed")
    finished(ledger, datetime.datetime(2026, 2, 16, tzinfo=UTC), status="cancelled")


def test_usage_counts_completed_runs_by_month_of_finishing(usage):
    rows = [
        (row.month.isoformat(), row.orchestration_key, row.completed) for row in usage_by_month()
    ]
    assert rows == [
        ("2026-01-01", "review", 2),
        ("2026-02-01", "ledger", 1),
        ("2026-02-01", "review", 1),
    ]


def test_usage_table_has_a_row_per_month_newest_first(usage):
    table = usage_table(usage_by_month())
    assert table.orchestrations == ["ledger", "review"]
    assert table.rows == [
        (datetime.date(2026, 2, 1), [1, 1], 2),
        (datetime.date(2026, 1, 1), [0, 2], 2),
    ]


def test_usage_csv(client, operator, usage):
    client.force_login(operator)
    response = client.get(reverse("runs:usage_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="baton-usage.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["month", "orchestration", "orchestration_name", "completed_runs"],
        ["2026-01", "review", "review", "2"],
        ["2026-02", "ledger", "ledger", "1"],
        ["2026-02", "review", "review", "1"],
    ]


def test_usage_csv_of_one_orchestration(client, operator, usage):
    client.force_login(operator)
    response = client.get(reverse("runs:usage_csv"), {"orchestration": "ledger"})
    assert response.content.decode().splitlines()[1:] == ["2026-02,ledger,ledger,1"]


def test_usage_csv_is_for_operators_only(client, assignee):
    client.force_login(assignee)
    assert client.get(reverse("runs:usage_csv")).status_code == 403
    assert client.post(reverse("runs:usage_csv")).status_code == 405


def test_the_dashboard_shows_the_last_twelve_months(client, operator, assignee, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 15, tzinfo=UTC))
    review = build(review_flow(reviewer=assignee))
    finished(review, datetime.datetime(2025, 12, 31, tzinfo=UTC))  # 12 months back: hidden
    finished(review, datetime.datetime(2026, 1, 2, tzinfo=UTC))
    client.force_login(operator)
    html = client.get(reverse("runs:charts")).content.decode()
    assert "January 2026" in html
    assert "December 2025" not in html


def test_months_back():
    assert months_back(datetime.date(2026, 12, 15), 12) == datetime.date(2026, 1, 1)
    assert months_back(datetime.date(2026, 3, 1), 12) == datetime.date(2025, 4, 1)
    assert months_back(datetime.date(2026, 3, 1), 1) == datetime.date(2026, 3, 1)
