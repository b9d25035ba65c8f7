"""GET /inbox/: the user's open work items, filtered, sorted, paginated, in fixed queries."""

import datetime

import pytest

from tests.workitems.bulk import bulk_open_items
from tests.workitems.items import launch
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


def test_each_member_sees_their_own_open_items(
    login, assignee, queue_member, group_member, outsider, personal_item, queue_item, group_item
):
    ana = login(assignee).get("/inbox/").content.decode()
    quinn = login(queue_member).get("/inbox/").content.decode()
    gus = login(group_member).get("/inbox/").content.decode()
    olga = login(outsider).get("/inbox/").content.decode()

    assert "Review expense" in ana and "Provision laptop" not in ana
    assert "Provision laptop" in quinn and ">Claim</button>" in quinn
    assert "Assign desk" in gus and "Provision laptop" not in gus
    assert "There is nothing waiting for you right now." in olga
    assert 'aria-label="1 open">1</span>' in ana  # the count in the navigation


def test_a_queue_item_claimed_by_someone_else_leaves_the_other_members_inbox(
    login, make_user, queue, queue_member, queue_item
):
    other = make_user("ben", first_name="Ben")
    queue.members.add(other)
    WorkItem.objects.filter(pk=queue_item.pk).update(owner=other)

    quinn = login(queue_member).get("/inbox/").content.decode()
    ben = login(other).get("/inbox/").content.decode()

    assert "Provision laptop" not in quinn
    assert "Provision laptop" in ben and "claimed by you" in ben


@pytest.fixture
def busy_user(assignee, queue, group, queue_item, group_item, personal_item):
    """Ana, in the IT queue and the Facilities group, with work of every kind."""
    queue.members.add(assignee)
    assignee.groups.add(group)
    return assignee


def test_filters_mine_queues_groups_and_orchestration(login, busy_user, personal_item, queue_item):
    client = login(busy_user)

    def titles(query):
        html = client.get(f"/inbox/?{query}").content.decode()
        return {t for t in ["Review expense", "Provision laptop", "Assign desk"] if t in html}

    assert titles("") == {"Review expense", "Provision laptop", "Assign desk"}
    assert titles("show=mine") == {"Review expense"}
    assert titles("show=queues") == {"Provision laptop"}
    assert titles("show=groups") == {"Assign desk"}
    assert titles(f"orchestration={queue_item.orchestration_id}") == {"Provision laptop"}
    assert titles("show=nonsense&sort=nonsense") == titles("")


def test_sorting_by_due_date_and_age(login, assignee, review_flow):
    first, second = launch("expense"), launch("expense")
    WorkItem.objects.filter(pk=first.pk).update(due_at=second.created_at + _days(5))
    WorkItem.objects.filter(pk=second.pk).update(due_at=second.created_at + _days(1))
    client = login(assignee)

    def order(sort):
        html = client.get(f"/inbox/?sort={sort}").content.decode()
        return sorted([first.pk, second.pk], key=lambda pk: html.index(f'id="item-{pk}"'))

    assert order("due") == [second.pk, first.pk]
    assert order("oldest") == [first.pk, second.pk]
    assert order("newest") == [second.pk, first.pk]


def test_an_overdue_item_is_marked(login, assignee, personal_item):
    WorkItem.objects.filter(pk=personal_item.pk).update(due_at=personal_item.created_at - _days(1))

    html = login(assignee).get("/inbox/").content.decode()

    assert 'class="item is-overdue"' in html
    assert "Overdue · was due" in html


def test_htmx_filter_request_gets_only_the_list(login, assignee, personal_item):
    response = login(assignee).get(
        "/inbox/?show=mine", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="inbox-list"
    )

    html = response.content.decode()
    assert "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="inbox-list">')
    assert "<html" not in html
    assert "Review expense" in html


def test_post_is_not_allowed(login, assignee):
    assert login(assignee).post("/inbox/").status_code == 405


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_root_goes_to_the_inbox(login, assignee):
    assert login(assignee).get("/")["Location"] == "/inbox/"


@pytest.mark.parametrize("per_kind", [10, 40])
def test_inbox_costs_a_fixed_number_of_queries(
    login, busy_user, make_user, personal_item, queue, group, django_assert_num_queries, per_kind
):
    """More rows than a page (25), in every kind of assignment, plus other people's work:
    session, user, the user's queues, groups, the count, the page's ids, those rows with
    their labels, the orchestration choices. The nav count reuses the page's count."""
    someone = make_user("sam")
    step = personal_item.step
    bulk_open_items(
        per_kind * 5,
        step=step,
        assignees=[
            {"assignee_user_id": busy_user.pk},
            {"assignee_queue_id": queue.pk},
            {"assignee_queue_id": queue.pk, "owner_id": busy_user.pk},
            {"assignee_group_id": group.pk},
            {"assignee_user_id": someone.pk},  # not Ana's
        ],
    )
    client = login(busy_user)

    with django_assert_num_queries(8):
        response = client.get("/inbox/")
    with django_assert_num_queries(9):  # filtered: the nav count is a query of its own
        filtered = client.get("/inbox/?show=queues&sort=oldest&page=2")

    assert response.context["page"].paginator.count == per_kind * 4 + 3
    assert len(response.context["page"].object_list) == 25
    assert filtered.status_code == 200


def _days(n):
    return datetime.timedelta(days=n)


def test_htmx_restoring_history_gets_the_whole_page(login, assignee, personal_item):
    response = login(assignee).get(
        "/inbox/?show=mine",
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
        HTTP_HX_TARGET="inbox-list",
    )

    assert "<html" in response.content.decode()
