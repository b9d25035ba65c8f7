"""The built-in actions, called as the engine calls them: resolved parameters and a context."""

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from demo.models import Employee
from orchestrator.actions import ActionContext, ActionFailed, Result, Suspend, get_action
from orchestrator.expressions import resolve_value

DATA = {"new_hire_form": {"full_name": "Ana Pérez", "email": "ana@example.com"}, "input": {}}


def context(record=None) -> ActionContext:
    return ActionContext(
        run_id=1,
        step_run_id=7,
        step_key="call",
        attempt=1,
        data=DATA,
        load_record=(lambda: record) if record is not None else None,
    )


def call(key: str, params: dict, record=None):
    action = get_action(key)
    assert action.check_parameters(params) == []
    return action.function(resolve_value(params, DATA), context(record))


@pytest.mark.django_db(transaction=True)
def test_http_request_posts_templated_json_and_keeps_status_and_answer(live_server):
    outputs = call(
        "http_request",
        {
            "method": "POST",
            "url": f"{live_server.url}/demo/payroll/employees/",
            "headers": {"Authorization": f"Bearer {settings.PAYROLL_API_TOKEN}"},
            "json": {"email": "{{ new_hire_form.email }}", "name": "{{ new_hire_form.full_name }}"},
        },
    )
    assert outputs["status"] == 201
    assert outputs["response"]["payroll_id"].startswith("PAY-")


@pytest.mark.django_db(transaction=True)
def test_http_request_non_2xx_is_a_failure_that_says_what_answered(live_server):
    with pytest.raises(ActionFailed, match="answered 400"):
        call(
            "http_request",
            {
                "method": "POST",
                "url": f"{live_server.url}/demo/payroll/employees/",
                "headers": {"Authorization": f"Bearer {settings.PAYROLL_API_TOKEN}"},
                "json": {},
            },
        )


def test_http_request_unreachable_is_a_failure():
    with pytest.raises(ActionFailed, match="failed"):
        call("http_request", {"url": "http://127.0.0.1:9/", "timeout": 2})


def test_send_email_renders_subject_and_body(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outputs = call(
        "send_email",
        {
            "to": "{{ new_hire_form.email }}",
            "subject": "Welcome, {{ new_hire_form.full_name }}",
            "body": "Hi!",
        },
    )
    assert outputs == {"to": ["ana@example.com"], "subject": "Welcome, Ana Pérez"}
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.extra_headers["X-Idempotency-Key"] == "step-run-7"


def test_send_email_is_plain_text_with_markup_and_run_data_as_written(settings):
    """A text email shows what the designer wrote and the run data as they are: escaping it
    (as a page would) would put "&lt;" in front of the reader."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    data = {"input": {"nickname": '<img src=x onerror="alert(1)"> & co'}}
    params = {
        "to": "ana@example.com",
        "subject": "<script>alert(1)</script> {{ input.nickname }}",
        "body": "<b>Hi</b> {{ input.nickname }}\n{% if input %}ok{% endif %}",
    }

    get_action("send_email").function(resolve_value(params, data), context())

    (message,) = mail.outbox
    assert message.message().get_content_type() == "text/plain"
    assert message.subject == '<script>alert(1)</script> <img src=x onerror="alert(1)"> & co'
    assert message.body == '<b>Hi</b> <img src=x onerror="alert(1)"> & co\nok'


@pytest.mark.django_db
def test_update_record_sets_fields_of_the_related_record():
    employee = Employee.objects.create(full_name="Ana", email="ana@example.com")
    result = call(
        "update_record", {"fields": {"job_title": "Lead", "department": "Sales"}}, employee
    )
    assert isinstance(result, Result)
    employee.refresh_from_db()
    assert (employee.job_title, employee.department) == ("Lead", "Sales")
    assert result.record_fields == {"job_title": "Lead", "department": "Sales"}


@pytest.mark.django_db
def test_update_record_refuses_unknown_fields_and_runs_without_a_record():
    employee = Employee.objects.create(full_name="Ana", email="ana@example.com")
    with pytest.raises(ActionFailed, match="no field named colour"):
        call("update_record", {"fields": {"colour": "blue"}}, employee)
    with pytest.raises(ActionFailed, match="no related record"):
        call("update_record", {"fields": {"job_title": "x"}})


def test_wait_gives_a_timer_for_a_duration_or_a_time():
    before = timezone.now()
    suspend = call("wait", {"duration": "1 00:00:00"})
    assert isinstance(suspend, Suspend)
    assert suspend.until - before >= datetime.timedelta(days=1)
    suspend = call("wait", {"until": "2030-01-02T03:04:05+00:00"})
    assert suspend.until.year == 2030
    with pytest.raises(ActionFailed, match="is not a date and time"):
        call("wait", {"until": "next tuesday"})


def test_parameters_are_checked_against_the_schema():
    action = get_action("send_email")
    problems = action.check_parameters({"to": 5, "colour": "blue"})
    assert 'Action "send_email" has no parameter "colour"' in problems[0]
    assert any('needs the parameter "subject"' in p for p in problems)
    assert any(p == 'Parameter "to" of action "send_email" has the wrong type.' for p in problems)
