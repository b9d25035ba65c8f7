"""POST /inbox/<id>/reassign/: hand an item to another person or queue."""

import pytest

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs.models import RunEvent
from tests.workitems.items import launch
from workitems import services
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


def test_the_assignee_hands_an_item_to_someone_else(login, assignee, queue_member, personal_item):
    client = login(assignee)

    response = client.post(
        f"/inbox/{personal_item.pk}/reassign/", {"to": f"user:{queue_member.pk}"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"  # Ana may no longer see it
    personal_item.refresh_from_db()
    assert personal_item.assignee_user == queue_member
    assert client.get(f"/inbox/{personal_item.pk}/").status_code == 404
    assert login(queue_member).get(f"/inbox/{personal_item.pk}/").status_code == 200
    event = RunEvent.objects.get(kind="work_item.reassigned")
    assert event.actor == assignee
    assert event.data == {"work_item": personal_item.pk, "previous": "Ana", "to": "Quinn"}


def test_an_item_can_go_to_a_queue(login, assignee, queue, queue_member, personal_item):
    login(assignee).post(f"/inbox/{personal_item.pk}/reassign/", {"to": f"queue:{queue.pk}"})

    personal_item.refresh_from_db()
    assert personal_item.assignee_user is None
    assert personal_item.assignee_queue == queue
    assert (
        f'href="/inbox/{personal_item.pk}/"' in login(queue_member).get("/inbox/").content.decode()
    )


def test_the_owner_of_a_queue_item_hands_it_to_a_queue_colleague(
    login, make_user, queue, queue_member, outsider, queue_item
):
    colleague = make_user("ben", first_name="Ben")
    queue.members.add(colleague)
    client = login(queue_member)
    client.post(f"/inbox/{queue_item.pk}/claim/")

    refused = client.post(
        f"/inbox/{queue_item.pk}/reassign/", {"to": f"user:{outsider.pk}"}, follow=True
    )
    accepted = client.post(f"/inbox/{queue_item.pk}/reassign/", {"to": f"user:{colleague.pk}"})

    assert "This item cannot be handed to Olga." in refused.content.decode()
    assert accepted.status_code == 302
    queue_item.refresh_from_db()
    assert (queue_item.assignee_user, queue_item.assignee_queue, queue_item.owner) == (
        colleague,
        None,
        None,
    )


def test_reassigning_to_the_same_person_again_says_so(login, operator, queue_member, personal_item):
    client = login(operator)
    client.post(f"/inbox/{personal_item.pk}/reassign/", {"to": f"user:{queue_member.pk}"})

    response = client.post(
        f"/inbox/{personal_item.pk}/reassign/", {"to": f"user:{queue_member.pk}"}, follow=True
    )

    assert "This item is already with Quinn." in response.content.decode()
    assert RunEvent.objects.filter(kind="work_item.reassigned").count() == 1


def test_a_reassignment_from_a_stale_page_is_refused(
    assignee, operator, queue_member, outsider, personal_item
):
    stale = WorkItem.objects.select_related("step").get(pk=personal_item.pk)
    services.reassign_work_item(item=personal_item, user=assignee, to_user=queue_member)

    with pytest.raises(services.WorkItemConflict) as refused:
        services.reassign_work_item(item=stale, user=operator, to_user=outsider)

    assert str(refused.value) == "This item was reassigned meanwhile; it is now for Quinn."


def test_get_is_not_allowed(login, assignee, personal_item):
    assert login(assignee).get(f"/inbox/{personal_item.pk}/reassign/").status_code == 405


def test_outsider_gets_404(login, outsider, personal_item):
    response = login(outsider).post(
        f"/inbox/{personal_item.pk}/reassign/", {"to": f"user:{outsider.pk}"}
    )

    assert response.status_code == 404
    personal_item.refresh_from_db()
    assert personal_item.assignee_user.username == "ana"


def test_a_step_that_forbids_it_cannot_be_reassigned(login, assignee, queue_member):
    sign = StepSpec("sign", assignee=assignee, allow_reassign=False)
    build(OrchestrationSpec("locked", stages=[StageSpec("sign", steps=[sign])]))
    item = launch("locked")
    client = login(assignee)

    page = client.get(f"/inbox/{item.pk}/").content.decode()
    response = client.post(f"/inbox/{item.pk}/reassign/", {"to": f"user:{queue_member.pk}"})

    assert "Reassign" not in page
    assert response.status_code == 403
    assert "&quot;Sign&quot; cannot be reassigned." in response.content.decode()


def test_a_group_member_may_not_reassign_a_group_item(login, group_member, outsider, group_item):
    response = login(group_member).post(
        f"/inbox/{group_item.pk}/reassign/", {"to": f"user:{outsider.pk}"}
    )

    assert response.status_code == 403
