"""Query parameters of every list page never raise: a bad number, page, sort, date or
search is ignored or shown as a filter error, and the page still answers (issue 12)."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
BAD_PARAMETERS = [
    {"orchestration": HUGE},
    {"orchestration": "abc"},
    {"orchestration": "-1"},
    {"orchestration": "1\x00"},
    {"page": "-1"},
    {"page": "0"},
    {"page": HUGE},
    {"page": "abc"},
    {"page": "1e3"},
    {"sort": "bogus"},
    {"show": "bogus"},
    {"status": "bogus"},
    {"started_from": "garbage", "started_to": "2025-13-45"},
    {"started_from": "0001-01-01"},
    {"started_to": "9999-12-31"},
    {"started_from": "9999-12-31", "started_to": "9999-12-31"},
    {"started_from": "0001-01-01", "started_to": "0001-01-01"},
    {"started_from": "99999-01-01"},
    {"q": "\x00"},
    {"q": HUGE},
    {"q": "#" + HUGE},
    {"q": "x" * 10_000},
    {"overdue": "maybe", "failed": "\x00"},
]
# Each page, and who looks at it: the operator the dashboard, Ana her inbox with its work.
PAGES = {
    "/runs/": "operator",
    "/runs/charts/": "operator",
    "/runs/usage.csv": "operator",
    "/inbox/": "assignee",
    "/start/": "assignee",
}


@pytest.fixture
def users(operator, assignee, personal_item):
    """A run of the expense orchestration is there to be listed, and Ana's work item."""
    return {"operator": operator, "assignee": assignee}


@pytest.mark.parametrize("page", PAGES)
def test_a_bad_query_parameter_never_fails_a_list_page(client, users, page):
    client.force_login(users[PAGES[page]])
    failed = {}
    for params in BAD_PARAMETERS:
        try:
            response = client.get(page, params)
        except Exception as exc:  # the test client re-raises what a view raised
            failed[repr(params)] = repr(exc)
            continue
        if response.status_code != 200:
            failed[repr(params)] = response.status_code
        elif page in ("/runs/", "/inbox/") and "page" in params:
            # A page number that is no page shows the first page.
            assert "Expense claim" in response.content.decode(), params

    assert failed == {}


def test_a_date_out_of_range_is_a_filter_error(client, users):
    client.force_login(users["operator"])

    response = client.get("/runs/", {"started_to": "9999-12-31"})

    assert "Enter a date between 1900 and 2999." in response.content.decode()
    assert "Expense claim" in response.content.decode()  # the filter is ignored


@pytest.mark.parametrize(
    "path",
    [f"/runs/{HUGE}/", f"/runs/{HUGE}/progress/", f"/inbox/{HUGE}/", f"/runs/{2**63}/"],
)
def test_an_id_beyond_the_database_is_not_found(client, users, path):
    client.force_login(users["operator"])

    assert client.get(path).status_code == 404
