"""/start/: the orchestrations a user may start, and starting one."""

import pytest
from django.contrib.auth.models import Group, Permission

from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs.models import Run
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(make_user):
    user = make_user("hanna", first_name="Hanna")
    user.groups.add(Group.objects.create(name="HR"))
    return user


@pytest.fixture
def onboarding(hr, queue):
    new_hire_form = StepSpec(
        "new_hire_form",
        "New hire form",
        assignee="starter",
        fields=[FieldSpec("full_name", "Full name")],
    )
    it = StepSpec("it", "Provision laptop", assignee=queue)
    return build(
        OrchestrationSpec(
            "onboarding",
            "Employee onboarding",
            starter_groups=[hr.groups.get()],
            stages=[StageSpec("hire", steps=[new_hire_form]), StageSpec("it", steps=[it])],
        )
    )


@pytest.fixture
def audit(hr, queue):
    check = StepSpec("check", "Check books", assignee=queue)
    return build(
        OrchestrationSpec(
            "audit",
            "Audit",
            starter_groups=[hr.groups.get()],
            stages=[StageSpec("check", steps=[check])],
        )
    )


def test_lists_what_the_user_may_start(login, hr, outsider, onboarding, audit):
    x = StepSpec("x", assignee=outsider)
    build(OrchestrationSpec("secret", "Secret project", stages=[StageSpec("x", steps=[x])]))

    html = login(hr).get("/start/").content.decode()

    assert "Employee onboarding" in html and "Audit" in html
    assert "Secret project" not in html


def test_the_permission_lets_staff_start_everything(login, operator, onboarding):
    operator.user_permissions.add(Permission.objects.get(codename="start_any_orchestration"))

    assert "Employee onboarding" in login(operator).get("/start/").content.decode()


def test_starting_goes_straight_to_the_starters_form(login, hr, onboarding):
    response = login(hr).post("/start/onboarding/", follow=True)

    run = Run.objects.get()
    item = WorkItem.objects.get(run=run)
    assert run.started_by == hr
    assert response.redirect_chain == [(f"/inbox/{item.pk}/", 302)]
    assert '<label for="id_full_name">Full name' in response.content.decode()


def test_starting_one_that_waits_for_others_says_what_for(login, hr, audit):
    response = login(hr).post("/start/audit/", follow=True)

    assert response.redirect_chain == [("/inbox/", 302)]
    assert "You started &#x27;Audit&#x27;. The run now waits for: Check books (IT)." in (
        response.content.decode()
    )


def test_each_post_starts_a_run_of_its_own(login, hr, audit):
    client = login(hr)
    client.post("/start/audit/")
    client.post("/start/audit/")

    assert Run.objects.count() == 2


def test_someone_not_allowed_gets_404_and_nothing_starts(login, outsider, onboarding):
    client = login(outsider)

    assert client.post("/start/onboarding/").status_code == 404
    assert client.post("/start/no-such-thing/").status_code == 404
    assert "There is nothing you can start." in client.get("/start/").content.decode()
    assert not Run.objects.exists()


def test_get_on_start_run_is_not_allowed(login, hr, onboarding):
    assert login(hr).get("/start/onboarding/").status_code == 405
    assert login(hr).post("/start/").status_code == 405
