"""The four demo orchestrations run end to end through the engine's service API, with a real
Celery worker running their background steps (payroll over HTTP, the welcome email)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from demo.models import Employee, PayrollEntry
from runs import engine
from runs.models import Run, StageRun, StepRun
from tests.runs.engine_helpers import statuses
from tests.support.polling import wait_for
from workitems.models import WorkItem

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def cast(transactional_db):
    call_command("seed_demo", verbosity=0)
    return {user.username: user for user in get_user_model().objects.all()}


def finished(run: Run) -> Run:
    wait_for(
        lambda: Run.objects.filter(pk=run.pk).exclude(status="running").exists(),
        message=f"run {run.pk} to finish",
    )
    run.refresh_from_db()
    return run


def answer(run: Run, key: str, user, **outputs) -> None:
    """Complete the step's open work item as `user` (claiming it first if it is queued)."""
    wait_for(
        lambda: WorkItem.objects.filter(run=run, step__key=key, status="open").exists(),
        message=f'"{key}" to wait for someone',
    )
    item = WorkItem.objects.get(run=run, step__key=key, status="open")
    if item.assignee_queue_id:
        assert WorkItem.objects.filter(pk=item.pk, owner=None).update(owner=user) == 1
    engine.complete_step(run_id=run.pk, step_run_id=item.step_run_id, outputs=outputs, user=user)


def test_employee_onboarding_end_to_end(cast, celery_worker_factory, live_server):
    worker = celery_worker_factory(payroll_api_url=f"{live_server.url}/demo/payroll/employees/")
    run = engine.launch("employee-onboarding", started_by=cast["hr"])
    answer(
        run,
        "new_hire_form",
        cast["hr"],
        full_name="Ana Pérez",
        email="ana.perez@example.com",
        start_date="2027-01-04",
        department="Engineering",
        job_title="Backend engineer",
        manager=cast["manager"].pk,
        annual_salary=91000.0,
    )
    employee = Employee.objects.get(email="ana.perez@example.com")
    assert employee.manager == cast["manager"]
    answer(
        run,
        "provision_it",
        cast["it2"],
        laptop_model="Dell XPS 13",
        accounts_created=True,
        asset_tag="A-77",
    )
    answer(run, "assign_desk", cast["facilities2"], building="North", desk_number="N-12")
    item = WorkItem.objects.filter(run=run, step__key="manager_approval")
    wait_for(lambda: item.exists(), message="the manager's work item (after payroll)")
    assert item.get().assignee_user == cast["manager"]
    answer(run, "manager_approval", cast["manager"], decision="approve", comment="Welcome!")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "completed")
    assert run.record == employee
    assert PayrollEntry.objects.count() == 1
    employee.refresh_from_db()
    assert employee.payroll_id.startswith("PAY-")
    # The worker also sends the outbox's emails (new work, the run's end): the new hire's.
    (email,) = wait_for(
        lambda: [m for m in worker.outbox() if m["To"] == "ana.perez@example.com"],
        message="the welcome email",
    )
    assert "Ana Pérez" in email["Subject"]


def loan(cast, amount: float) -> Run:
    run = engine.launch("loan-approval", started_by=cast["applicant"])
    answer(
        run, "application", cast["applicant"], applicant_name="Bo Li", amount=amount, purpose="Van"
    )
    return run


def test_loan_above_the_amount_passes_compliance_and_is_approved(cast, celery_worker_process):
    run = loan(cast, 80000.0)
    answer(run, "underwriting", cast["underwriter"], decision="approve", comment="")
    answer(run, "compliance_review", cast["compliance"], decision="approve", comment="")
    answer(run, "funding", cast["funding"], funded_on="2027-02-01", reference="TX-1")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "approved")


def test_loan_below_the_amount_skips_compliance(cast, celery_worker_process):
    run = loan(cast, 12000.0)
    answer(run, "underwriting", cast["underwriter"], decision="approve", comment="")
    answer(run, "funding", cast["funding"], funded_on="2027-02-01", reference="TX-2")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "approved")
    assert StageRun.objects.get(run=run, stage__key="compliance").status == "skipped"
    assert statuses(run)["compliance_review"] == "skipped"


def test_loan_rejected_by_the_underwriter(cast, celery_worker_process):
    run = loan(cast, 80000.0)
    answer(run, "underwriting", cast["underwriter"], decision="reject", comment="Too risky")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "rejected")
    assert statuses(run)["funding"] == "skipped"


def test_loan_sent_back_for_more_information_then_approved(cast, celery_worker_process):
    run = loan(cast, 30000.0)
    answer(run, "underwriting", cast["underwriter"], decision="more_info", comment="Payslips?")
    answer(
        run,
        "application",
        cast["applicant"],
        applicant_name="Bo Li",
        amount=30000.0,
        purpose="Van, with payslips",
    )
    answer(run, "underwriting", cast["underwriter"], decision="approve", comment="")
    answer(run, "funding", cast["funding"], funded_on="2027-02-01", reference="TX-3")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "approved")
    iterations = StageRun.objects.filter(run=run, stage__key="application").order_by("iteration")
    assert [s.iteration for s in iterations] == [1, 2]
    latest = StepRun.objects.filter(run=run, step__key="application").order_by("-id").first()
    assert latest.outputs["purpose"] == "Van, with payslips"


def test_content_publishing_end_to_end(cast, celery_worker_process):
    run = engine.launch("content-publishing", started_by=cast["author"])
    answer(run, "draft", cast["author"], title="Spring release", body="What is new.")
    answer(run, "editorial_review", cast["editor"], decision="approve", comment="")
    answer(run, "legal_review", cast["legal"], decision="approve", comment="")
    answer(
        run,
        "publish",
        cast["marketing"],
        publish_on="2027-03-01",
        channel=_first_choice(run, "publish", "channel"),
    )
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "published")
    assert statuses(run)["announce"] == "completed"


def test_product_launch_end_to_end(cast, celery_worker_process):
    run = engine.launch("product-launch", started_by=cast["engineering"])
    answer(run, "engineering", cast["engineering"], build_version="2.0.0", tests_passed=True)
    answer(run, "marketing", cast["marketing"], campaign="Launch week")
    answer(run, "sales", cast["sales"], training_done=True)
    answer(run, "ready_to_launch", cast["manager"], decision="go", comment="")
    run = finished(run)
    assert (run.status, run.outcome) == ("completed", "launched")


def _first_choice(run: Run, step_key: str, field_key: str) -> str:
    from orchestrator.models import Field

    field = Field.objects.get(
        screen__flow__version=run.version, screen__flow__key=step_key, key=field_key
    )
    return field.choice_pairs[0][0]
