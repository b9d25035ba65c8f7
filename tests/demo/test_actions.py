"""The demo's own action, `demo_payroll_setup`, against the demo's fake payroll API."""

import pytest

from demo.actions import demo_payroll_setup
from demo.models import Employee, PayrollEntry
from orchestrator.actions import ActionContext, ActionFailed, get_action

NEW_HIRE = {
    "full_name": "Maya Lin",
    "email": "maya@example.com",
    "annual_salary": 85000.0,
    "start_date": "2026-01-05",
}


def context(record=None, step_run_id=7) -> ActionContext:
    return ActionContext(
        run_id=1,
        step_run_id=step_run_id,
        step_key="setup_payroll",
        attempt=1,
        data={"new_hire_form": dict(NEW_HIRE)},
        load_record=lambda: record,
        record_model=type(record) if record else None,
        record_pk=str(record.pk) if record else None,
    )


def test_payroll_setup_is_a_registered_action():
    assert get_action("demo_payroll_setup").function is demo_payroll_setup


@pytest.mark.django_db(transaction=True)
def test_payroll_setup_registers_the_hire_once_and_keeps_the_id(live_server, settings):
    settings.PAYROLL_API_URL = live_server.url + "/demo/payroll/employees/"
    employee = Employee.objects.create(full_name="Maya Lin", email="maya@example.com")

    result = demo_payroll_setup({}, context(record=employee))
    # A retried attempt carries the same idempotency key: payroll registers the hire once.
    again = demo_payroll_setup({}, context(record=employee))

    payroll_id = result.outputs["payroll_id"]
    assert payroll_id.startswith("PAY-")
    assert again.outputs["payroll_id"] == payroll_id
    assert result.record_fields == {"payroll_id": payroll_id}
    (entry,) = PayrollEntry.objects.all()
    assert entry.idempotency_key == "step-run-7"
    assert entry.payload == NEW_HIRE
    employee.refresh_from_db()
    assert employee.payroll_id == payroll_id


@pytest.mark.django_db(transaction=True)
def test_payroll_setup_fails_with_payrolls_answer(live_server, settings):
    settings.PAYROLL_API_URL = live_server.url + "/demo/payroll/employees/"
    ctx = context()
    ctx.data["new_hire_form"]["email"] = ""

    with pytest.raises(ActionFailed, match="The payroll system answered 400"):
        demo_payroll_setup({}, ctx)


def test_payroll_setup_fails_clearly_when_payroll_is_unreachable(settings):
    settings.PAYROLL_API_URL = "http://127.0.0.1:9/demo/payroll/employees/"

    with pytest.raises(ActionFailed, match="The payroll system could not be reached"):
        demo_payroll_setup({}, context())
