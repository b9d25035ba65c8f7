"""Run data the engine cannot use is refused with a sentence, at once and without writing
anything: a line break in an email header, answers the step's record cannot hold."""

import pytest
from django.core import mail

from demo.models import Employee
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run, RunEvent, StepRun
from tests.runs.engine_helpers import complete, waiting, work_background

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_flow(assignee):
    ask = StepSpec("ask", assignee=assignee, fields=[FieldSpec("note", type="long_text")])
    welcome = StepSpec(
        "welcome",
        "Welcome email",
        action="send_email",
        parameters={
            "to": ["ana@example.com", "{{ input.cc }}"],
            "subject": "Re: {{ ask.note }}",
            "body": "{{ ask.note }}",
        },
        max_retries=3,
        retry_backoff=0,
    )
    build(
        OrchestrationSpec(
            "mail", stages=[StageSpec("ask", steps=[ask]), StageSpec("mail", steps=[welcome])]
        )
    )


def test_a_line_break_in_a_rendered_header_fails_the_step_at_once(assignee, email_flow):
    run = engine.launch("mail", inputs={"cc": "bo@example.com"})
    complete(run, "ask", assignee, note="Hello\nBcc: everyone@example.com")

    work_background(run)

    step_run = StepRun.objects.get(run=run, step__key="welcome")
    assert step_run.status == StepRun.Status.FAILED
    assert step_run.attempts == 1  # not retried: another attempt would fail alike
    assert step_run.error == (
        'The "subject" of step "Welcome email" must be one line, but the run data put a line '
        "break in it; correct that data and retry the step."
    )
    assert "BadHeaderError" not in step_run.traceback
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    failed = RunEvent.objects.get(run=run, kind="run.failed")
    assert failed.data["error"] == f'"Welcome email" failed: {step_run.error}'
    assert mail.outbox == []


def test_a_line_break_in_an_address_from_the_inputs_names_the_parameter(assignee, email_flow):
    run = engine.launch("mail", inputs={"cc": "bo@example.com\r\nBcc: x@example.com"})
    complete(run, "ask", assignee, note="Hello")

    work_background(run)

    step_run = StepRun.objects.get(run=run, step__key="welcome")
    assert step_run.status == StepRun.Status.FAILED
    assert step_run.attempts == 1
    assert step_run.error.startswith('The "to" of step "Welcome email" must be one line')
    assert mail.outbox == []


def test_one_line_headers_are_sent(assignee, email_flow):
    run = engine.launch("mail", inputs={"cc": "bo@example.com"})
    complete(run, "ask", assignee, note="Hello")

    work_background(run)

    assert [message.subject for message in mail.outbox] == ["Re: Hello"]


def test_answers_the_record_cannot_hold_are_refused_and_nothing_is_written(assignee):
    hire = StepSpec(
        "hire",
        assignee=assignee,
        creates_record="demo.Employee",
        fields=[FieldSpec("full_name"), FieldSpec("email", type="email")],
    )
    build(OrchestrationSpec("hire", stages=[StageSpec("hire", steps=[hire])]))
    run = engine.launch("hire")

    with pytest.raises(engine.RecordRefused) as refused:
        complete(run, "hire", assignee, full_name="N" * 201, email="not an address")

    assert str(refused.value) == (
        "The answers do not fit the new employee: full name: Ensure this value has at most 200 "
        "characters (it has 201). email: Enter a valid email address."
    )
    assert refused.value.errors.keys() == {"full_name", "email"}
    assert Employee.objects.count() == 0
    assert waiting(run, "hire").outputs == {}
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.record_id in ("", None)
