"""POST /inbox/<id>/claim/: one queue member takes a queue item."""

import threading

import pytest
from django.db import connection
from django.test import Client

from runs.models import RunEvent
from workitems import services
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


def test_a_queue_member_claims_and_the_claim_is_recorded(login, queue_member, queue_item):
    response = login(queue_member).post(f"/inbox/{queue_item.pk}/claim/")

    assert response.status_code == 302
    assert response["Location"] == f"/inbox/{queue_item.pk}/"
    queue_item.refresh_from_db()
    assert queue_item.owner == queue_member
    event = RunEvent.objects.get(run_id=queue_item.run_id, kind="work_item.claimed")
    assert event.actor == queue_member
    assert event.step_run_id == queue_item.step_run_id
    assert event.data == {"work_item": queue_item.pk, "queue": "IT"}


def test_claiming_again_says_who_has_it(login, make_user, queue, queue_member, queue_item):
    other = make_user("ben", first_name="Ben")
    queue.members.add(other)
    login(queue_member).post(f"/inbox/{queue_item.pk}/claim/")

    mine = login(queue_member).post(f"/inbox/{queue_item.pk}/claim/", follow=True)
    theirs = login(other).post(f"/inbox/{queue_item.pk}/claim/", follow=True)

    assert "You have already claimed this item." in mine.content.decode()
    assert "Already claimed by Quinn." in theirs.content.decode()
    queue_item.refresh_from_db()
    assert queue_item.owner == queue_member
    assert RunEvent.objects.filter(kind="work_item.claimed").count() == 1


def test_claim_from_the_inbox_over_htmx_answers_with_the_row(login, queue_member, queue_item):
    response = login(queue_member).post(
        f"/inbox/{queue_item.pk}/claim/",
        {"from": "inbox"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET=f"item-{queue_item.pk}",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<li class="item" id="item-{queue_item.pk}"')
    assert "You claimed &#x27;Provision laptop&#x27;." in html
    assert "claimed by you" in html


def test_get_is_not_allowed(login, queue_member, queue_item):
    assert login(queue_member).get(f"/inbox/{queue_item.pk}/claim/").status_code == 405


def test_outsider_gets_404(login, outsider, queue_item):
    assert login(outsider).post(f"/inbox/{queue_item.pk}/claim/").status_code == 404
    queue_item.refresh_from_db()
    assert queue_item.owner is None


def test_staff_outside_the_queue_may_not_claim(login, operator, queue_item):
    response = login(operator).post(f"/inbox/{queue_item.pk}/claim/")

    assert response.status_code == 403
    assert "Only members of IT can claim this item." in response.content.decode()


def test_a_group_item_is_not_claimed(login, group_member, group_item):
    response = login(group_member).post(f"/inbox/{group_item.pk}/claim/")

    assert response.status_code == 403
    assert "Only queue items are claimed; this one is for Facilities." in response.content.decode()


def test_claim_needs_the_csrf_token(queue_member, queue_item):
    client = Client(enforce_csrf_checks=True)
    client.force_login(queue_member)

    refused = client.post(f"/inbox/{queue_item.pk}/claim/")
    page = client.get(f"/inbox/{queue_item.pk}/")
    token = page.context["csrf_token"]
    accepted = client.post(f"/inbox/{queue_item.pk}/claim/", {"csrfmiddlewaretoken": str(token)})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    queue_item.refresh_from_db()
    assert queue_item.owner == queue_member


@pytest.mark.django_db(transaction=True)
def test_two_members_claiming_at_once_exactly_one_wins(make_user, queue, queue_item):
    """Two members press Claim at the same moment: the conditional UPDATE lets one win; the
    other is told who has it. Before, a read-then-save claim let both "win" and the last
    save silently took the item from the first."""
    members = [make_user(f"racer{i}", first_name=f"Racer{i}") for i in range(2)]
    queue.members.add(*members)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def claim(user):
        try:
            item = WorkItem.objects.select_related("assignee_queue", "step").get(pk=queue_item.pk)
            barrier.wait(timeout=10)
            services.claim_work_item(item=item, user=user)
            results[user.username] = "won"
        except services.WorkItemConflict as exc:
            results[user.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "deadlock"

    winner = next(name for name, result in results.items() if result == "won")
    loser_message = next(result for result in results.values() if result != "won")
    assert list(results.values()).count("won") == 1
    assert loser_message == f"Already claimed by {winner.capitalize()}."
    queue_item.refresh_from_db()
    assert queue_item.owner.username == winner
    assert RunEvent.objects.filter(kind="work_item.claimed").count() == 1
