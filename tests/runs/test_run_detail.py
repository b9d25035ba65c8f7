"""/runs/<id>/: the timeline, answers, work items, failures, events and data of one run."""

import pytest
from django.urls import reverse

from orchestrator.specs import build
from runs import engine
from runs.models import RunEvent, StepRun
from tests.runs.engine_helpers import complete, run_failed_step, work_background
from tests.runs.flows import background_flow, review_flow

pytestmark = pytest.mark.django_db


def page_of(client, run, **headers):
    return client.get(reverse("runs:detail", args=[run.pk]), headers=headers)


def flat(response) -> str:
    return " ".join(response.content.decode().split())


def test_non_staff_get_403_and_a_missing_run_404(client, assignee, operator):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    client.force_login(assignee)
    assert page_of(client, run).status_code == 403
    client.force_login(operator)
    assert client.get(reverse("runs:detail", args=[run.pk + 1000])).status_code == 404
    assert client.post(reverse("runs:detail", args=[run.pk])).status_code == 405


def test_who_answered_what_with_the_screen_flow_labels(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review", title="Ana's laptop")
    complete(run, "approval", assignee, decision="approve", comment="Fine by me")
    client.force_login(operator)
    html = flat(page_of(client, run))
    assert "Completed by Ana" in html
    assert "<dt>Decision</dt><dd>Approve</dd>" in html  # the choice's label, not "approve"
    assert "<dt>Comment</dt><dd>Fine by me</dd>" in html
    assert "Ana&#x27;s laptop" in html


def test_the_timeline_lists_stages_and_steps_with_times(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    complete(run, "approval", assignee, decision="reject")
    work_background(run)
    client.force_login(operator)
    response = page_of(client, run)
    detail = response.context["detail"]
    assert [stage.stage.label for stage in detail.stages] == ["Review", "Notify"]
    assert [
        (view.step.label, view.step_run.status) for stage in detail.stages for view in stage.steps
    ] == [("Manager approval", "completed"), ("Announce", "completed")]
    html = flat(response)
    assert "background: log" in html
    assert "step.completed" in html and "run.completed" in html


def test_pending_work_items_show_assignee_and_age(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    client.force_login(operator)
    response = page_of(client, run)
    # The interactive step kind supplies the section (runs does not read work items); the
    # run listeners add theirs after it (the notifications telling Ana).
    section, *listeners = response.context["detail"].sections
    assert section.template == "workitems/run_page_section.html"
    assert [s.template for s in listeners] == ["notifications/run_page_section.html"]
    assert [item.step.label for item in section.context["work_items"]] == ["Manager approval"]
    html = flat(response)
    assert "Waiting for people" in html
    assert "<td>Manager approval</td> <td>Ana</td> <td>—</td> <td>0s</td>" in html


def test_a_failed_step_shows_error_traceback_and_attempts(client, operator, tmp_path):
    flag = tmp_path / "down"
    flag.touch()
    build(background_flow(flag=flag))
    run = engine.launch("ledger")
    run_failed_step(run)
    client.force_login(operator)
    html = flat(page_of(client, run))
    assert "The ledger service is down." in html
    assert '<details><summary>Traceback</summary><pre class="traceback">Traceback' in html
    assert "Attempts made: 1" in html


def test_the_event_log_and_the_run_data(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review", inputs={"amount": 1200})
    engine.record_event(run_id=run.pk, kind="work_item.claimed", actor=assignee, queue="IT")
    client.force_login(operator)
    response = page_of(client, run)
    kinds = [view.event.kind for view in response.context["detail"].events]
    assert kinds[0] == "work_item.claimed"  # newest first
    assert "run.started" in kinds
    html = flat(response)
    assert '<span class="muted">queue:</span> IT' in html
    assert "&quot;amount&quot;: 1200" in html


def test_the_page_polls_while_running_and_the_partial_stops_when_finished(
    client, operator, assignee
):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    client.force_login(operator)
    html = page_of(client, run).content.decode()
    assert 'hx-trigger="every 3s"' in html
    complete(run, "approval", assignee, decision="approve")
    work_background(run)
    partial = page_of(client, run, HX_Request="true").content.decode()
    assert partial.lstrip().startswith('<div id="run-live"')
    assert "hx-trigger" not in partial
    assert "Completed" in partial


def test_the_run_page_costs_a_fixed_number_of_queries(
    client, operator, assignee, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    client.force_login(operator)
    page_of(client, run)  # warm the plan cache and the session
    with CaptureQueriesContext(connection) as before:
        page_of(client, run)
    for number in range(30):
        engine.record_event(run_id=run.pk, kind="work_item.claimed", actor=assignee, n=number)
    with django_assert_num_queries(len(before)):
        page_of(client, run)
    assert StepRun.objects.filter(run=run).count() == 2
    assert RunEvent.objects.filter(run=run).count() > 30
    # Finished, no step waits: the interactive kind is not asked for its section, so two
    # queries fewer (the open work items, and the queues of the reassign form).
    complete(run, "approval", assignee, decision="approve")
    with django_assert_num_queries(len(before) - 2):
        page_of(client, run)
