"""The run list at /runs/: who may see it, what it shows, its filters, counts and pages."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from orchestrator.specs import build
from runs import engine
from runs.models import Run, StepRun
from runs.selectors import PAGE_SIZE, RunFilters, status_counts
from tests.runs.bulk import make_runs
from tests.runs.engine_helpers import run_failed_step
from tests.runs.flows import background_flow, review_flow

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def listed_ids(response) -> list[int]:
    return [run.pk for run in response.context["page"].runs]


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("runs:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_non_staff_get_403(client, assignee):
    client.force_login(assignee)
    assert client.get(reverse("runs:list")).status_code == 403


def test_staff_without_the_view_permission_get_403(client, make_user):
    client.force_login(make_user("stella", is_staff=True))
    assert client.get(reverse("runs:list")).status_code == 403


def test_post_is_405(client, operator):
    client.force_login(operator)
    assert client.post(reverse("runs:list")).status_code == 405


def test_a_run_row_shows_what_an_operator_needs(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review", started_by=assignee, title="Ana Pérez")
    client.force_login(operator)
    response = client.get(reverse("runs:list"))
    html = response.content.decode()
    assert listed_ids(response) == [run.pk]
    row = html[html.index(f"#{run.pk}</a>") :]
    row = row[: row.index("</tr>")]
    for text in ("review", "v1", "Ana Pérez", "Running", "Review", "Ana"):
        assert text in row
    assert response.context["page"].runs[0].current_stage == "Review"


def test_the_list_costs_a_fixed_number_of_queries(
    client, operator, assignee, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = build(review_flow(reviewer=assignee))
    make_runs(version, 1, started_at=NOW, status="running", started_by=assignee)
    client.force_login(operator)
    client.get(reverse("runs:list"))  # warm the session and the content types
    with CaptureQueriesContext(connection) as one_run:
        client.get(reverse("runs:list"))
    make_runs(version, PAGE_SIZE + 15, started_at=NOW, status="running", started_by=assignee)
    # Ours: user permissions, group permissions, orchestration choices, status counts, the
    # page of runs (current stage, orchestration, version, starter in the same query). The
    # rest is the session, the user and the navigation's open count.
    assert len(one_run) <= 10
    with django_assert_num_queries(len(one_run)):
        response = client.get(reverse("runs:list"))
    assert len(response.context["page"].runs) == PAGE_SIZE
    assert response.context["page"].has_next
    with django_assert_num_queries(len(one_run) + 1):  # + the orchestration lookup
        response = client.get(reverse("runs:list"), {"orchestration": "review", "page": 2})
    assert len(response.context["page"].runs) == 16


def test_pages_go_back_in_time_without_gaps(client, operator, assignee):
    version = build(review_flow(reviewer=assignee))
    runs = make_runs(version, PAGE_SIZE + 3, started_at=NOW)
    client.force_login(operator)
    first = listed_ids(client.get(reverse("runs:list")))
    second = listed_ids(client.get(reverse("runs:list"), {"page": 2}))
    assert first + second == [run.pk for run in runs]


def test_filter_by_orchestration_status_and_start_dates(client, operator, assignee):
    review = build(review_flow(reviewer=assignee))
    ledger = build(background_flow())
    old = make_runs(review, 1, started_at=NOW - datetime.timedelta(days=10), status="completed")
    recent = make_runs(review, 1, started_at=NOW, status="running")
    other = make_runs(ledger, 1, started_at=NOW, status="running")
    client.force_login(operator)
    get = lambda **params: listed_ids(client.get(reverse("runs:list"), params))  # noqa: E731
    assert get(orchestration="review") == [recent[0].pk, old[0].pk]
    assert get(orchestration="ledger") == [other[0].pk]
    assert get(status="completed") == [old[0].pk]
    today = timezone.localdate()
    assert get(
        started_from=(today - datetime.timedelta(days=11)).isoformat(),
        started_to=(today - datetime.timedelta(days=9)).isoformat(),
    ) == [old[0].pk]
    assert set(get(started_from=today.isoformat())) == {recent[0].pk, other[0].pk}


def test_an_end_before_the_start_is_shown_beside_the_field(client, operator):
    client.force_login(operator)
    response = client.get(
        reverse("runs:list"), {"started_from": "2026-05-02", "started_to": "2026-05-01"}
    )
    assert "The end date must not be before the start date." in response.content.decode()


def test_filter_runs_with_an_overdue_work_item(client, operator, assignee):
    from workitems.models import WorkItem

    build(review_flow(reviewer=assignee))
    late = engine.launch("review", title="Late")
    on_time = engine.launch("review", title="On time")
    WorkItem.objects.filter(run=late).update(due_at=NOW - datetime.timedelta(hours=1))
    WorkItem.objects.filter(run=on_time).update(due_at=NOW + datetime.timedelta(days=1))
    client.force_login(operator)
    response = client.get(reverse("runs:list"), {"overdue": "on"})
    assert listed_ids(response) == [late.pk]


def test_filter_runs_with_a_failed_step(client, operator, tmp_path):
    flag = tmp_path / "down"
    flag.touch()
    build(background_flow(flag=flag))
    failed = engine.launch("ledger")
    run_failed_step(failed)
    engine.launch("ledger")
    client.force_login(operator)
    assert listed_ids(client.get(reverse("runs:list"), {"failed": "on"})) == [failed.pk]


def test_search_by_related_record_or_run_number(client, operator, assignee):
    version = build(review_flow(reviewer=assignee))
    ana = make_runs(version, 1, started_at=NOW, title="Ana Pérez")[0]
    bob = make_runs(version, 1, started_at=NOW, title="Bob Stone")[0]
    client.force_login(operator)
    assert listed_ids(client.get(reverse("runs:list"), {"q": "pérez"})) == [ana.pk]
    assert listed_ids(client.get(reverse("runs:list"), {"q": f"#{bob.pk}"})) == [bob.pk]
    assert listed_ids(client.get(reverse("runs:list"), {"q": "nobody"})) == []


def test_counts_by_status_follow_the_other_filters_and_are_capped(client, operator, assignee):
    review = build(review_flow(reviewer=assignee))
    ledger = build(background_flow())
    make_runs(review, 3, started_at=NOW, status="running")
    make_runs(review, 2, started_at=NOW, status="completed")
    make_runs(ledger, 4, started_at=NOW, status="failed")
    client.force_login(operator)
    response = client.get(reverse("runs:list"), {"orchestration": "review", "status": "failed"})
    counts = {item.status: item.display for item in response.context["counts"]}
    assert counts == {"running": "3", "completed": "2", "failed": "0", "cancelled": "0"}
    assert response.context["total"] == "5"
    capped = {item.status: item.display for item in status_counts(RunFilters(), cap=3)}
    assert capped == {"running": "3", "completed": "2", "failed": "3+", "cancelled": "0"}


def test_the_charts_partial_needs_the_same_permission(client, assignee, operator):
    client.force_login(assignee)
    assert client.get(reverse("runs:charts")).status_code == 403
    client.force_login(operator)
    response = client.get(reverse("runs:charts"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="chart-data"' in response.content


def test_the_operator_permission_set_includes_viewing(operator):
    assert operator.has_perm("runs.view_run")
    assert Permission.objects.filter(codename="retry_step", content_type__app_label="runs")
    assert StepRun and Run  # the models the page lists
