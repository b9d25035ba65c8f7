"""The fixed cast of the test suite, and the shared plug-ins (worker, browser)."""

import pytest
from django.contrib.auth.models import Group, Permission

from orchestrator.models import Queue
from tests.support import actions as test_actions  # noqa: F401  (registers test actions)

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, **extra):
        user = django_user_model.objects.create_user(
            username=username, password="demo", email=f"{username}@example.com", **extra
        )
        return user

    return make


@pytest.fixture
def assignee(make_user):
    return make_user("ana", first_name="Ana")


@pytest.fixture
def queue_member(make_user):
    return make_user("quinn", first_name="Quinn")


@pytest.fixture
def queue(queue_member):
    queue = Queue.objects.create(key="it", name="IT")
    queue.members.add(queue_member)
    return queue


@pytest.fixture
def group_member(make_user):
    return make_user("gus", first_name="Gus")


@pytest.fixture
def group(group_member):
    group = Group.objects.create(name="Facilities")
    group_member.groups.add(group)
    return group


@pytest.fixture
def outsider(make_user):
    return make_user("olga", first_name="Olga")


@pytest.fixture
def operator(make_user):
    user = make_user("otto", first_name="Otto", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["runs", "workitems"])
    )
    return user


@pytest.fixture(autouse=True)
def _fresh_plans():
    """Plans are cached per version id for good; a test database may reuse an id (SQLite)."""
    from orchestrator import plan

    plan._cache.clear()
    yield
    plan._cache.clear()
