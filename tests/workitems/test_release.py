"""POST /inbox/<id>/release/: the owner gives a claimed queue item back to its queue."""

import pytest

from runs.models import RunEvent
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(queue_member, queue_item):
    WorkItem.objects.filter(pk=queue_item.pk).update(owner=queue_member)
    queue_item.refresh_from_db()
    return queue_item


def test_the_owner_releases_and_the_release_is_recorded(login, queue_member, claimed):
    response = login(queue_member).post(f"/inbox/{claimed.pk}/release/", follow=True)

    assert "&#x27;Provision laptop&#x27; is back in the IT queue." in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.owner is None
    event = RunEvent.objects.get(kind="work_item.released")
    assert event.actor == queue_member
    assert event.data["owner"] == "Quinn"


def test_releasing_again_says_it_is_not_claimed(login, queue_member, claimed):
    client = login(queue_member)
    client.post(f"/inbox/{claimed.pk}/release/")

    response = client.post(f"/inbox/{claimed.pk}/release/", follow=True)

    assert "This item is not claimed by anyone." in response.content.decode()
    assert RunEvent.objects.filter(kind="work_item.released").count() == 1


def test_get_is_not_allowed(login, queue_member, claimed):
    assert login(queue_member).get(f"/inbox/{claimed.pk}/release/").status_code == 405


def test_outsider_gets_404(login, outsider, claimed):
    assert login(outsider).post(f"/inbox/{claimed.pk}/release/").status_code == 404


def test_another_queue_member_may_not_release_it(login, make_user, queue, claimed):
    other = make_user("ben", first_name="Ben")
    queue.members.add(other)

    response = login(other).post(f"/inbox/{claimed.pk}/release/")

    assert response.status_code == 403
    assert "Only Quinn can release this item." in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.owner is not None


def test_staff_with_the_permission_may_release_anyones(login, operator, claimed):
    login(operator).post(f"/inbox/{claimed.pk}/release/")

    claimed.refresh_from_db()
    assert claimed.owner is None
