"""Operator actions on the run page: retry, skip, cancel; each asks why and is recorded."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orchestrator.specs import build
from runs import engine
from runs.models import Run, RunEvent, StepRun
from tests.runs.engine_helpers import run_failed_step, work_background
from tests.runs.flows import background_flow, review_flow

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def failed_run(tmp_path):
    flag = tmp_path / "ledger-down"
    flag.touch()
    build(background_flow(flag=flag))
    run = engine.launch("ledger", title="Invoice 17")
    step_run = run_failed_step(run)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    return run, step_run, flag


def test_run_page_shows_the_error_and_the_retry_form(client, operator, failed_run):
    run, step_run, _ = failed_run
    client.force_login(operator)
    response = client.get(reverse("runs:detail", args=[run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The ledger service is down." in html
    assert "Traceback" in html
    assert reverse("runs:retry_step", args=[run.pk, step_run.pk]) in html
    # A finished or failed run does not poll.
    assert "hx-trigger" not in html


def test_retry_through_the_page_records_who_and_why_and_the_run_completes(
    client, operator, failed_run
):
    run, step_run, flag = failed_run
    flag.unlink()
    client.force_login(operator)
    url = reverse("runs:retry_step", args=[run.pk, step_run.pk])
    response = client.post(url, {"reason": "Ledger is back up"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("runs:detail", args=[run.pk])
    assert messages_of(response) == ['"Post to ledger" is being retried.']
    event = RunEvent.objects.get(run=run, kind="step.retried")
    assert event.actor == operator
    assert event.data["reason"] == "Ledger is back up"
    assert event.step_run_id == step_run.pk
    work_background(run)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED


def test_retry_without_a_reason_is_refused_with_a_sentence(client, operator, failed_run):
    run, step_run, _ = failed_run
    client.force_login(operator)
    url = reverse("runs:retry_step", args=[run.pk, step_run.pk])
    response = client.post(url, {"reason": "  "}, follow=True)
    assert messages_of(response) == ["Say why, so that others can follow the run's history."]
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.FAILED
    assert not RunEvent.objects.filter(run=run, kind="step.retried").exists()


def test_second_retry_is_answered_with_the_engine_sentence(client, operator, failed_run):
    run, step_run, _ = failed_run
    client.force_login(operator)
    url = reverse("runs:retry_step", args=[run.pk, step_run.pk])
    client.post(url, {"reason": "first"}, follow=True)
    response = client.post(url, {"reason": "again"}, follow=True)
    assert messages_of(response) == ["Only a failed step can be retried; this one is queued."]
    assert RunEvent.objects.filter(run=run, kind="step.retried").count() == 1


def test_skip_a_failed_step_through_the_page(client, operator, failed_run):
    run, step_run, _ = failed_run
    client.force_login(operator)
    url = reverse("runs:skip_step", args=[run.pk, step_run.pk])
    client.post(url, {"reason": "Posted by hand"})
    event = RunEvent.objects.get(run=run, kind="step.skipped")
    assert (event.actor, event.data["reason"]) == (operator, "Posted by hand")
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED


def test_skip_a_waiting_interactive_step(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    step_run = StepRun.objects.get(run=run, step__key="approval")
    client.force_login(operator)
    client.post(
        reverse("runs:skip_step", args=[run.pk, step_run.pk]), {"reason": "Manager on leave"}
    )
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.SKIPPED
    event = RunEvent.objects.get(run=run, kind="step.skipped", actor=operator)
    assert event.data["reason"] == "Manager on leave"


def test_cancel_through_the_page(client, operator, assignee):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    client.force_login(operator)
    response = client.post(
        reverse("runs:cancel", args=[run.pk]), {"reason": "Duplicate request"}, follow=True
    )
    assert messages_of(response) == ["The run was cancelled."]
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    event = RunEvent.objects.get(run=run, kind="run.cancelled")
    assert (event.actor, event.data["reason"]) == (operator, "Duplicate request")
    again = client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "x"}, follow=True)
    assert messages_of(again)[0].startswith("This run was already cancelled at ")


@pytest.mark.parametrize("name", ["retry_step", "skip_step"])
def test_step_actions_answer_405_to_get(client, operator, failed_run, name):
    run, step_run, _ = failed_run
    client.force_login(operator)
    assert client.get(reverse(f"runs:{name}", args=[run.pk, step_run.pk])).status_code == 405


def test_cancel_answers_405_to_get(client, operator, failed_run):
    run, _, _ = failed_run
    client.force_login(operator)
    assert client.get(reverse("runs:cancel", args=[run.pk])).status_code == 405


@pytest.mark.parametrize(
    ("name", "permission"), [("retry_step", "retry_step"), ("skip_step", "skip_step")]
)
def test_staff_without_the_permission_get_404(client, make_user, failed_run, name, permission):
    run, step_run, _ = failed_run
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="runs").exclude(codename=permission)
    )
    client.force_login(user)
    response = client.post(reverse(f"runs:{name}", args=[run.pk, step_run.pk]), {"reason": "x"})
    assert response.status_code == 404
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.FAILED


def test_cancel_without_the_permission_is_404_and_the_form_is_not_shown(
    client, make_user, failed_run
):
    run, _, _ = failed_run
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.force_login(user)
    page = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert reverse("runs:cancel", args=[run.pk]) not in page
    assert reverse("runs:retry_step", args=[run.pk, run.step_runs.get().pk]) not in page
    assert client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "x"}).status_code == 404
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED


def test_non_staff_get_404_on_actions(client, assignee, failed_run):
    run, step_run, _ = failed_run
    client.force_login(assignee)
    response = client.post(reverse("runs:retry_step", args=[run.pk, step_run.pk]), {"reason": "x"})
    assert response.status_code == 404


def _answers(client, run_id, step_run_id, item_id):
    """What each operator endpoint answers a POST about these ids: status and body."""
    urls = [
        reverse("runs:cancel", args=[run_id]),
        reverse("runs:retry_step", args=[run_id, step_run_id]),
        reverse("runs:skip_step", args=[run_id, step_run_id]),
        reverse("workitems:reassign_from_run", args=[run_id, item_id]),
    ]
    answers = []
    for url in urls:
        response = client.post(url, {"reason": "x", "username": "ana"})
        answers.append((response.status_code, response.content))
    return answers


@pytest.mark.parametrize("role", ["participant", "staff_viewer", "outsider"])
def test_without_the_permission_real_and_missing_ids_get_the_same_404(
    client, make_user, assignee, role
):
    # No existence oracle: someone who may not act cannot tell a run that exists from one
    # that does not (it used to be 403 for a real id and 404 for a missing one).
    build(review_flow(reviewer=assignee))
    run = engine.launch("review", started_by=make_user("sam"))
    item = run.work_items.get()
    step_run = item.step_run
    user = {
        "participant": assignee,
        "staff_viewer": make_user("viewer", is_staff=True),
        "outsider": make_user("olga"),
    }[role]
    if role == "staff_viewer":
        user.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.force_login(user)

    real = _answers(client, run.pk, step_run.pk, item.pk)
    missing = _answers(client, run.pk + 1000, step_run.pk + 1000, item.pk + 1000)

    assert [status for status, _ in real] == [404] * 4
    assert real == missing
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING


def test_an_operator_gets_404_for_missing_ids(client, operator):
    client.force_login(operator)
    assert [status for status, _ in _answers(client, 999999, 999999, 999999)] == [404] * 4


def test_a_step_run_of_another_run_is_404(client, operator, failed_run, assignee):
    run, _, _ = failed_run
    build(review_flow(reviewer=assignee))
    other = engine.launch("review")
    other_step = other.step_runs.first()
    client.force_login(operator)
    url = reverse("runs:skip_step", args=[run.pk, other_step.pk])
    assert client.post(url, {"reason": "x"}).status_code == 404


# The same actions in the admin, on a selection of runs -----------------------------------


def admin_action(client, action: str, runs, **extra):
    data = {"action": action, "_selected_action": [run.pk for run in runs], **extra}
    return client.post(reverse("admin:runs_run_changelist"), data, follow=True)


def test_admin_retry_asks_for_a_reason_first(client, operator, failed_run):
    run, step_run, _ = failed_run
    client.force_login(operator)
    response = admin_action(client, "retry_failed_steps", [run], index="0")
    html = response.content.decode()
    assert "Retry the failed steps" in html
    assert 'name="reason"' in html
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.FAILED
    # Applied without a reason: asked again, nothing done.
    response = admin_action(client, "retry_failed_steps", [run], apply="yes", reason="")
    assert "Say why, so that others can follow the runs" in response.content.decode()
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.FAILED


def test_admin_retry_with_a_reason_retries_every_failed_step(client, operator, failed_run):
    run, step_run, flag = failed_run
    flag.unlink()
    client.force_login(operator)
    response = admin_action(client, "retry_failed_steps", [run], apply="yes", reason="Ledger fixed")
    assert "1 failed step(s) are being retried." in response.content.decode()
    event = RunEvent.objects.get(run=run, kind="step.retried")
    assert (event.actor, event.data["reason"]) == (operator, "Ledger fixed")


def test_admin_cancel_reports_what_the_engine_refused(client, operator, failed_run, assignee):
    run, _, _ = failed_run
    build(review_flow(reviewer=assignee))
    other = engine.launch("review")
    engine.cancel_run(run_id=other.pk, user=operator, reason="earlier")
    client.force_login(operator)
    response = admin_action(client, "cancel_runs", [run, other], apply="yes", reason="Duplicates")
    html = response.content.decode()
    assert "1 run(s) were cancelled." in html
    assert f"Run {other.pk}: This run was already cancelled" in html
    event = RunEvent.objects.get(run=run, kind="run.cancelled")
    assert (event.actor, event.data["reason"]) == (operator, "Duplicates")


def test_admin_actions_need_their_permission(client, make_user, failed_run):
    run, step_run, _ = failed_run
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.force_login(user)
    changelist = client.get(reverse("admin:runs_run_changelist"))
    assert changelist.status_code == 200
    assert "retry_failed_steps" not in changelist.content.decode()
    admin_action(client, "retry_failed_steps", [run], apply="yes", reason="x")
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.FAILED


# Reassigning a work item from the run page -------------------------------------------------


@pytest.fixture
def waiting_run(assignee):
    build(review_flow(reviewer=assignee))
    return engine.launch("review")


def reassign_url(run):
    item = run.work_items.get(status="open")
    return reverse("workitems:reassign_from_run", args=[run.pk, item.pk]), item


def test_reassign_to_a_person_records_who_and_why(client, operator, waiting_run, make_user):
    make_user("bea", first_name="Bea")
    url, item = reassign_url(waiting_run)
    client.force_login(operator)
    response = client.post(url, {"username": "bea", "reason": "Ana is on leave"}, follow=True)
    assert messages_of(response) == ['"Manager approval" is now for Bea.']
    item.refresh_from_db()
    assert item.assignee_user.username == "bea"
    event = RunEvent.objects.get(run=waiting_run, kind="work_item.reassigned")
    assert (event.actor, event.data["reason"]) == (operator, "Ana is on leave")


def test_reassign_to_a_queue(client, operator, waiting_run, queue):
    url, item = reassign_url(waiting_run)
    client.force_login(operator)
    client.post(url, {"queue": queue.pk, "reason": "The IT desk handles these"})
    item.refresh_from_db()
    assert (item.assignee_user, item.assignee_queue) == (None, queue)


def test_reassign_needs_a_reason_and_one_target(client, operator, waiting_run, queue):
    url, item = reassign_url(waiting_run)
    client.force_login(operator)
    response = client.post(url, {"username": "", "reason": "x"}, follow=True)
    assert messages_of(response) == ["Choose either a person or a queue."]
    response = client.post(url, {"username": "nobody", "reason": "x"}, follow=True)
    assert messages_of(response) == ['There is no active user "nobody".']
    response = client.post(url, {"queue": queue.pk}, follow=True)
    assert messages_of(response) == ["Say why, so that others can follow the run's history."]
    assert not RunEvent.objects.filter(run=waiting_run, kind="work_item.reassigned").exists()


def test_reassign_to_the_same_person_is_answered_plainly(client, operator, waiting_run):
    url, _ = reassign_url(waiting_run)
    client.force_login(operator)
    response = client.post(url, {"username": "ana", "reason": "x"}, follow=True)
    assert messages_of(response) == ["This item is already with Ana."]


def test_reassign_without_the_permission_is_404_and_get_is_405(client, make_user, waiting_run):
    url, _ = reassign_url(waiting_run)
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="runs"))
    client.force_login(user)
    assert client.post(url, {"username": "viewer", "reason": "x"}).status_code == 404
    assert client.get(url).status_code == 405
