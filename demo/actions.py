"""The demo's own actions: an example of how a project registers actions.

A module listed in the ACTION_MODULES setting is imported at start-up; each
`@register_action` in it becomes an action a background step can name.
"""

from django.conf import settings

from demo.models import Employee
from orchestrator.actions import ActionFailed, Result, http, register_action


@register_action("demo_payroll_setup")
def demo_payroll_setup(params, context):
    """Register the new hire with payroll (the HR form's answers) and keep the payroll id on
    the run's Employee record. Outputs: payroll_id."""
    answers = context.data.get("new_hire_form") or {}
    payload = {
        "full_name": answers.get("full_name"),
        "email": answers.get("email"),
        "annual_salary": answers.get("annual_salary"),
        "start_date": answers.get("start_date"),
    }
    # Read at call time, not import time, so that tests can point it at a live server.
    url = settings.PAYROLL_API_URL
    try:
        # A connection kept open from the last call is used again (orchestrator/actions/http.py).
        response = http.request(
            "POST",
            url,
            json=payload,
            # The same key on every attempt of this step run: payroll registers the hire once.
            headers={
                "Idempotency-Key": context.idempotency_key,
                "Authorization": f"Bearer {settings.PAYROLL_API_TOKEN}",
            },
            timeout=10,
        )
    except http.HTTPError as exc:
        raise ActionFailed(f"The payroll system could not be reached: {exc}") from exc
    if not 200 <= response.status < 300:
        text = response.data.decode("utf-8", "replace")[:500]
        raise ActionFailed(f"The payroll system answered {response.status}: {text}")
    try:
        payroll_id = str(response.json()["payroll_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ActionFailed("The payroll system's answer had no payroll id.") from exc

    record_fields = {}
    if context.record_model is Employee:
        Employee.objects.filter(pk=context.record_pk).update(payroll_id=payroll_id)
        record_fields["payroll_id"] = payroll_id
    # record_fields keeps the run data's copy of the record (`record.payroll_id`) current.
    return Result(outputs={"payroll_id": payroll_id}, record_fields=record_fields)
