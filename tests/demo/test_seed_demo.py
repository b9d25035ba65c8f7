"""`seed_demo`: the demo cast and four valid, active orchestrations, idempotently."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.test import Client

from demo.models import Employee
from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Queue,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)
from orchestrator.validation import validate_version
from runs import engine
from runs.models import Run, StageRun
from tests.runs.engine_helpers import complete, statuses, waiting, work_background
from workitems import services
from workitems.models import WorkItem

User = get_user_model()

ROLE_USERS = [
    "admin",
    "hr",
    "it",
    "it2",
    "facilities",
    "facilities2",
    "manager",
    "applicant",
    "underwriter",
    "compliance",
    "funding",
    "author",
    "editor",
    "legal",
    "marketing",
    "engineering",
    "sales",
]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The default hasher takes a good part of a second per check; 17 checks add up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def users() -> dict:
    return {user.username: user for user in User.objects.all()}


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "groups": Group.objects.count(),
        "group memberships": User.groups.through.objects.count(),
        "queues": Queue.objects.count(),
        "queue memberships": Queue.members.through.objects.count(),
        "orchestrations": Orchestration.objects.count(),
        "starter groups": Orchestration.starter_groups.through.objects.count(),
        "versions": OrchestrationVersion.objects.count(),
        "stages": Stage.objects.count(),
        "routes": StageRoute.objects.count(),
        "steps": Step.objects.count(),
        "screen flows": ScreenFlow.objects.count(),
        "screens": Screen.objects.count(),
        "fields": Field.objects.count(),
    }


@pytest.mark.django_db
def test_seed_creates_four_orchestrations_each_with_one_valid_active_version():
    output = seed()

    keys = set(Orchestration.objects.values_list("key", flat=True))
    assert keys == {"employee-onboarding", "loan-approval", "content-publishing", "product-launch"}
    for orchestration in Orchestration.objects.all():
        versions = list(orchestration.versions.all())
        assert [version.status for version in versions] == ["active"], orchestration.key
        assert validate_version(versions[0]) == [], orchestration.key
        assert orchestration.starter_groups.exists(), orchestration.key
    assert "Demo logins (password 'demo')" in output
    assert "Employee onboarding v1" in output


@pytest.mark.django_db
def test_seeding_twice_changes_nothing():
    seed()
    before = counts()
    passwords = dict(User.objects.values_list("username", "password"))
    active = set(OrchestrationVersion.objects.filter(status="active").values_list("pk", flat=True))

    output = seed()

    assert counts() == before
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert (
        set(OrchestrationVersion.objects.filter(status="active").values_list("pk", flat=True))
        == active
    )
    assert "Users created: none" in output
    assert "Orchestrations activated: none" in output


@pytest.mark.django_db
def test_seed_keeps_existing_users_password():
    User.objects.create_user("hr", password="secret", email="hr@corp.example")

    seed()

    hr = User.objects.get(username="hr")
    assert hr.check_password("secret")
    assert hr.groups.filter(name="HR").exists()


@pytest.mark.django_db
def test_demo_users_have_password_demo_and_their_teams():
    seed()
    cast = users()

    assert set(ROLE_USERS) <= set(cast)
    for username in ROLE_USERS:
        user = cast[username]
        assert user.check_password("demo"), username
        assert user.email == f"{username}@example.com"
        assert user.first_name
    assert cast["admin"].is_superuser and cast["admin"].is_staff
    assert not any(cast[name].is_staff for name in ROLE_USERS if name != "admin")

    def members(group: str) -> set[str]:
        return set(Group.objects.get(name=group).user_set.values_list("username", flat=True))

    it_queue = Queue.objects.get(key="it")
    assert it_queue.name == "IT"
    assert set(it_queue.members.values_list("username", flat=True)) == {"it", "it2"}
    assert members("Facilities") == {"facilities", "facilities2"}
    assert members("HR") == {"hr"}
    assert members("Applicants") == {"applicant"}
    assert members("Authors") == {"author"}
    assert members("Product") == {"engineering", "marketing", "sales"}


@pytest.mark.django_db
def test_onboarding_steps_and_field_labels_are_those_of_the_issue():
    seed()
    version = Orchestration.objects.get(key="employee-onboarding").active_version

    steps = list(version.steps.select_related("stage").order_by("stage__position", "position"))
    assert [(step.stage.position, step.label) for step in steps] == [
        (0, "New hire form"),
        (1, "Provision laptop and accounts"),
        (1, "Assign desk"),
        (1, "Set up payroll"),
        (2, "Manager approval"),
        (3, "Send welcome email"),
    ]
    by_key = {step.key: step for step in steps}
    assert by_key["new_hire_form"].creates_record.model_class() is Employee
    assert by_key["new_hire_form"].assignee_type == "starter"
    assert by_key["provision_it"].assignee_queue.key == "it"
    assert by_key["assign_desk"].assignee_group.name == "Facilities"
    assert by_key["setup_payroll"].action == "demo_payroll_setup"
    assert by_key["manager_approval"].assignee_expression == "new_hire_form.manager"
    assert by_key["send_welcome_email"].action == "send_email"

    def fields(key: str) -> list[tuple[str, str]]:
        flow_fields = Field.objects.filter(screen__flow=by_key[key].screen_flow).order_by(
            "screen__position", "position"
        )
        return [(item.label, item.type) for item in flow_fields]

    assert fields("new_hire_form") == [
        ("Full name", "text"),
        ("Email", "email"),
        ("Start date", "date"),
        ("Department", "choice"),
        ("Job title", "text"),
        ("Manager", "user"),
        ("Annual salary", "decimal"),
    ]
    assert fields("provision_it") == [
        ("Laptop model", "choice"),
        ("Accounts created", "yes_no"),
        ("Asset tag", "text"),
    ]
    assert fields("assign_desk") == [("Building", "text"), ("Desk number", "text")]
    assert fields("manager_approval") == [("Decision", "decision"), ("Comment", "long_text")]
    decision = Field.objects.get(
        screen__flow=by_key["manager_approval"].screen_flow, key="decision"
    )
    assert [label for _, label in decision.choice_pairs] == ["Approve", "Reject"]
    # Answers create the Employee: every HR form field is one of its fields.
    employee_fields = {item.name for item in Employee._meta.concrete_fields}
    hr_keys = Field.objects.filter(screen__flow=by_key["new_hire_form"].screen_flow)
    assert set(hr_keys.values_list("key", flat=True)) <= employee_fields


def maya_lin(*, manager) -> dict:
    """The new hire form's answers for Maya Lin."""
    return {
        "full_name": "Maya Lin",
        "email": "maya@example.com",
        "start_date": "2026-01-05",
        "department": "Engineering",
        "job_title": "Data engineer",
        "manager": manager.pk,
        "annual_salary": 85000.0,
    }


@pytest.mark.django_db(transaction=True)
def test_seeded_onboarding_runs_from_the_hr_form_to_the_welcome_email(live_server, settings):
    settings.PAYROLL_API_URL = live_server.url + "/demo/payroll/employees/"
    seed()
    cast = users()

    run = engine.launch("employee-onboarding", started_by=cast["hr"])
    complete(run, "new_hire_form", cast["hr"], **maya_lin(manager=cast["manager"]))
    employee = Employee.objects.get(email="maya@example.com")
    assert employee.manager == cast["manager"]
    # A queue item is claimed before it is completed.
    WorkItem.objects.filter(run=run, step__key="provision_it").update(owner=cast["it"])
    complete(
        run,
        "provision_it",
        cast["it"],
        laptop_model="ThinkPad X1 Carbon",
        accounts_created=True,
        asset_tag="A-1042",
    )
    complete(run, "assign_desk", cast["facilities2"], building="North", desk_number="4.12")
    assert work_background(run) == 1  # Set up payroll.

    item = WorkItem.objects.get(step_run=waiting(run, "manager_approval"))
    assert item.assignee_user == cast["manager"]
    complete(run, "manager_approval", cast["manager"], decision="approve", comment="")
    assert work_background(run) == 1  # Send welcome email.

    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "completed")
    employee.refresh_from_db()
    assert employee.payroll_id.startswith("PAY-")
    (email,) = mail.outbox
    assert email.to == ["maya@example.com"]
    assert email.subject == "Welcome to the team, Maya Lin!"
    assert "4.12 in North" in email.body and "ThinkPad X1 Carbon" in email.body


@pytest.mark.django_db
def test_seeded_loan_goes_back_for_more_information_and_skips_compliance_when_small():
    seed()
    cast = users()
    application = {"applicant_name": "Sam Reed", "purpose": "A van for the bakery"}

    run = engine.launch("loan-approval", started_by=cast["applicant"])
    complete(run, "application", cast["applicant"], amount=20000.0, **application)
    complete(run, "underwriting", cast["underwriter"], decision="more_info", comment="Why?")
    complete(run, "application", cast["applicant"], amount=30000.0, **application)
    complete(run, "underwriting", cast["underwriter"], decision="approve", comment="")
    complete(run, "funding", cast["funding"], funded_on="2026-02-01", reference="TX-1")

    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "approved")
    assert StageRun.objects.filter(run=run, stage__key="application").count() == 2
    assert statuses(run)["compliance_review"] == "skipped"


@pytest.mark.django_db
def test_seeded_loan_above_fifty_thousand_needs_compliance_which_can_reject():
    seed()
    cast = users()

    run = engine.launch("loan-approval", started_by=cast["applicant"])
    complete(
        run, "application", cast["applicant"], applicant_name="Sam", amount=80000.0, purpose="Shop"
    )
    complete(run, "underwriting", cast["underwriter"], decision="approve", comment="")
    complete(run, "compliance_review", cast["compliance"], decision="reject", comment="No.")

    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "rejected")


@pytest.mark.django_db
def test_seeded_content_goes_back_to_the_author_then_is_published():
    seed()
    cast = users()

    run = engine.launch("content-publishing", started_by=cast["author"])
    complete(run, "draft", cast["author"], title="Spring news", body="Draft one")
    complete(run, "editorial_review", cast["editor"], decision="changes", comment="Shorter.")
    complete(run, "draft", cast["author"], title="Spring news", body="Draft two")
    complete(run, "editorial_review", cast["editor"], decision="approve", comment="")
    complete(run, "legal_review", cast["legal"], decision="approve", comment="")
    complete(run, "publish", cast["marketing"], publish_on="2026-03-01", channel="Blog")
    assert work_background(run) == 1  # Announce publication, after marketing published.

    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "published")


@pytest.mark.django_db
def test_seeded_launch_on_hold_goes_back_to_readiness_then_launches():
    seed()
    cast = users()

    run = engine.launch("product-launch", started_by=cast["engineering"])
    for _ in range(2):
        complete(run, "engineering", cast["engineering"], build_version="1.0", tests_passed=True)
        complete(run, "marketing", cast["marketing"], campaign="Spring")
        complete(run, "sales", cast["sales"], training_done=True)
        decision = (
            "go" if StageRun.objects.filter(run=run, stage__key="gate").count() > 1 else "hold"
        )
        complete(run, "ready_to_launch", cast["manager"], decision=decision, comment="")

    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "launched")
    assert StageRun.objects.filter(run=run, stage__key="readiness").count() == 2


@pytest.mark.django_db
def test_seeded_loan_review_cannot_be_handed_to_the_applicant():
    seed()
    cast = users()
    run = engine.launch("loan-approval", started_by=cast["applicant"])
    complete(
        run, "application", cast["applicant"], applicant_name="Sam", amount=900.0, purpose="Bike"
    )
    item = WorkItem.objects.get(step_run=waiting(run, "underwriting"))

    with pytest.raises(services.Excluded) as refused:
        services.reassign_work_item(item=item, user=cast["underwriter"], to_user=cast["applicant"])

    assert str(refused.value) == (
        'Applicant started this run and cannot complete "Underwriting review".'
    )


@pytest.mark.django_db(transaction=True)
def test_seeded_onboarding_hides_the_salary_from_it_and_hr_cannot_approve_their_own_hire(
    live_server, settings
):
    settings.PAYROLL_API_URL = live_server.url + "/demo/payroll/employees/"
    seed()
    cast = users()
    run = engine.launch("employee-onboarding", started_by=cast["hr"])
    # HR names themself as the approving manager.
    complete(run, "new_hire_form", cast["hr"], **maya_lin(manager=cast["hr"]))
    provision = WorkItem.objects.get(step_run=waiting(run, "provision_it"))
    it = Client()
    it.force_login(cast["it"])
    page = it.get(f"/inbox/{provision.pk}/").content.decode()
    assert "Maya Lin" in page and "Annual salary" not in page and "85,000" not in page

    WorkItem.objects.filter(pk=provision.pk).update(owner=cast["it"])
    complete(run, "provision_it", cast["it"], laptop_model="Dell XPS 13", accounts_created=True)
    complete(run, "assign_desk", cast["facilities2"], building="North", desk_number="4.12")
    assert work_background(run) == 1  # Set up payroll.

    approval = WorkItem.objects.get(step_run=waiting(run, "manager_approval"))
    assert approval.assignee_user is None
    assert approval.unassigned_because.startswith(
        'HR completed "New hire form" and cannot complete "Manager approval".'
    )
