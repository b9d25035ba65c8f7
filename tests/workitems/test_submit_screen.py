"""POST /inbox/<id>/screen/: Next, Back, validation, drafts, decisions and completing."""

import pytest
from django.contrib.messages import get_messages

from orchestrator.specs import (
    APPROVE,
    REJECT,
    FieldSpec,
    OrchestrationSpec,
    ScreenSpec,
    StageSpec,
    StepSpec,
    build,
    decision,
)
from runs.models import Run, StepRun
from tests.workitems.items import launch, open_item
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "screen"}


def first_screen(**values):
    return {
        "_screen": "0",
        "_nav": "next",
        "title": "Taxi",
        "amount": "12.50",
        "spent_on": "2025-03-03",
        **values,
    }


def submit(client, item, data, **headers):
    return client.post(f"/inbox/{item.pk}/screen/", data, **headers)


def test_next_saves_the_draft_and_shows_the_next_screen(login, assignee, personal_item):
    response = submit(login(assignee), personal_item, first_screen())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Your decision" in html
    assert ">Approve</button>" in html and ">Reject</button>" in html
    assert 'value="back"' in html
    personal_item.refresh_from_db()
    assert personal_item.current_screen == 1
    assert personal_item.draft == {"title": "Taxi", "amount": "12.50", "spent_on": "2025-03-03"}


def test_htmx_request_gets_only_the_screen_fragment(login, assignee, personal_item):
    response = submit(login(assignee), personal_item, first_screen(), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="screen"')
    assert "<html" not in html and "Earlier answers" not in html


def test_validation_errors_are_inline_and_the_values_are_kept(login, assignee, personal_item):
    response = submit(
        login(assignee), personal_item, first_screen(title="", amount="twelve"), **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<ul class="errorlist" id="id_title_error"><li>This field is required.</li></ul>' in html
    assert '<ul class="errorlist" id="id_amount_error"><li>Enter a number.</li></ul>' in html
    assert 'value="twelve"' in html
    assert 'aria-invalid="true"' in html
    assert "autofocus" in html  # on the first field with an error
    personal_item.refresh_from_db()
    assert personal_item.current_screen == 0
    assert personal_item.draft["amount"] == "twelve"  # nothing typed is lost


def test_back_keeps_what_was_typed_without_validating(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())

    response = submit(client, personal_item, {"_screen": "1", "_nav": "back", "comment": "Hm"})

    html = response.content.decode()
    assert 'name="title" value="Taxi"' in html
    personal_item.refresh_from_db()
    assert personal_item.current_screen == 0
    assert personal_item.draft["comment"] == "Hm"


def test_the_draft_is_kept_between_visits(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())
    submit(client, personal_item, {"_screen": "1", "_nav": "back", "comment": "Looks fine"})

    html = client.get(f"/inbox/{personal_item.pk}/").content.decode()
    assert 'name="title" value="Taxi"' in html
    assert 'name="amount" value="12.50"' in html

    submit(client, personal_item, first_screen())
    html = client.get(f"/inbox/{personal_item.pk}/").content.decode()
    assert "Your decision" in html  # back on the screen the user left
    assert "Looks fine</textarea>" in html


def test_a_decision_button_completes_the_step_with_typed_answers(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())

    response = submit(
        client, personal_item, {"_screen": "1", "decision": "approve", "comment": "<ok>"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    step_run = StepRun.objects.get(pk=personal_item.step_run_id)
    assert step_run.status == StepRun.Status.COMPLETED
    assert step_run.completed_by == assignee
    assert step_run.outputs == {
        "title": "Taxi",
        "amount": 12.5,
        "spent_on": "2025-03-03",
        "decision": "approve",
        "comment": "<ok>",
    }
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "Thanks — 'Review expense' is complete. The run now waits for: File the expense (Ana)."
    )
    personal_item.refresh_from_db()
    assert personal_item.status == WorkItem.Status.COMPLETED


def test_htmx_completion_redirects_the_whole_page(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())

    response = submit(client, personal_item, {"_screen": "1", "decision": "reject"}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/inbox/"


def test_a_missing_decision_is_an_inline_error(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())

    response = submit(client, personal_item, {"_screen": "1", "_nav": "complete"})

    assert "Choose Approve or Reject." in response.content.decode()
    assert StepRun.objects.get(pk=personal_item.step_run_id).status == StepRun.Status.WAITING


def test_an_earlier_screen_that_became_invalid_is_shown_again(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())
    WorkItem.objects.filter(pk=personal_item.pk).update(
        draft={"title": "", "amount": "1", "spent_on": ""}
    )

    response = submit(client, personal_item, {"_screen": "1", "decision": "approve"})

    html = response.content.decode()
    assert "Please check the answers on this screen." in html
    assert '<ul class="errorlist" id="id_title_error">' in html


def test_completing_twice_answers_already_completed(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())
    submit(client, personal_item, {"_screen": "1", "decision": "approve"})

    response = submit(client, personal_item, {"_screen": "1", "decision": "reject"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Already completed by Ana at" in html
    assert StepRun.objects.get(pk=personal_item.step_run_id).outputs["decision"] == "approve"


def test_get_is_not_allowed(login, assignee, personal_item):
    assert login(assignee).get(f"/inbox/{personal_item.pk}/screen/").status_code == 405


def test_outsider_gets_404(login, outsider, personal_item):
    response = submit(login(outsider), personal_item, first_screen())

    assert response.status_code == 404
    personal_item.refresh_from_db()
    assert personal_item.draft == {}


def test_staff_who_may_see_it_may_not_fill_it_in(login, operator, personal_item):
    response = submit(login(operator), personal_item, first_screen())

    assert response.status_code == 403
    assert "Only Ana can work on this item." in response.content.decode()


def test_a_queue_item_must_be_claimed_first(login, queue_member, queue_item):
    response = submit(
        login(queue_member), queue_item, {"_screen": "0", "_nav": "complete", "asset_tag": "A1"}
    )

    html = response.content.decode()
    assert "Claim this item before working on it." in html
    assert 'value="A1"' in html
    assert StepRun.objects.get(pk=queue_item.step_run_id).status == StepRun.Status.WAITING


def test_a_queue_item_claimed_by_someone_else_is_refused(login, make_user, queue, queue_item):
    other = make_user("ben", first_name="Ben")
    queue.members.add(other)
    WorkItem.objects.filter(pk=queue_item.pk).update(owner=other)
    member = queue.members.get(username="quinn")

    response = submit(
        login(member), queue_item, {"_screen": "0", "_nav": "complete", "asset_tag": "A1"}
    )

    assert "Already claimed by Ben." in response.content.decode()


def test_the_owner_completes_a_claimed_queue_item(login, queue_member, queue_item):
    client = login(queue_member)
    client.post(f"/inbox/{queue_item.pk}/claim/")

    response = submit(client, queue_item, {"_screen": "0", "_nav": "complete", "asset_tag": "A1"})

    assert response.status_code == 302
    assert StepRun.objects.get(pk=queue_item.step_run_id).outputs == {"asset_tag": "A1"}
    assert open_item(queue_item.run_id).step.label == "Hand over"


def test_a_stale_group_submit_is_refused_and_keeps_the_typed_values(
    login, make_user, group, group_member, group_item
):
    second = make_user("gabe", first_name="Gabe")
    second.groups.add(group)
    gus, gabe = login(group_member), login(second)
    assert gabe.get(f"/inbox/{group_item.pk}/").status_code == 200  # both have the form open

    first = submit(gus, group_item, {"_screen": "0", "_nav": "complete", "desk": "4.12"})
    stale = submit(gabe, group_item, {"_screen": "0", "_nav": "complete", "desk": "7.01"}, **HTMX)

    assert first.status_code == 302
    html = stale.content.decode()
    assert stale.status_code == 200
    assert "Already completed by Gus at" in html
    assert 'value="7.01"' in html
    assert StepRun.objects.get(pk=group_item.step_run_id).outputs == {"desk": "4.12"}
    assert f'href="/inbox/{group_item.pk}/"' not in gabe.get("/inbox/").content.decode()


def test_a_finished_run_is_named_in_the_message(login, assignee, personal_item):
    client = login(assignee)
    submit(client, personal_item, first_screen())
    submit(client, personal_item, {"_screen": "1", "decision": "approve"})
    last = open_item(personal_item.run_id)

    response = submit(client, last, {"_screen": "0", "_nav": "complete", "note": ""})

    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[-1] == "Thanks — 'File the expense' is complete. The run is finished."
    assert Run.objects.get(pk=personal_item.run_id).status == Run.Status.COMPLETED


def test_a_decision_before_the_last_screen_is_kept_for_complete(login, assignee):
    triage = StepSpec(
        "triage",
        assignee=assignee,
        screens=[
            ScreenSpec("Route", [decision(APPROVE, REJECT, label="Route")]),
            ScreenSpec("Why", [FieldSpec("why", "Why")]),
        ],
    )
    build(OrchestrationSpec("triage", stages=[StageSpec("triage", steps=[triage])]))
    item = launch("triage")
    client = login(assignee)

    moved = submit(client, item, {"_screen": "0", "decision": "reject"})
    done = submit(client, item, {"_screen": "1", "_nav": "complete", "why": "Too late"})

    assert '<label for="id_why">Why' in moved.content.decode()
    assert done.status_code == 302
    assert StepRun.objects.get(pk=item.step_run_id).outputs == {
        "decision": "reject",
        "why": "Too late",
    }
