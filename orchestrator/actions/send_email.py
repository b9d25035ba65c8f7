"""The `send_email` action: a templated email through Django's email backend."""

from django.conf import settings
from django.core.mail import EmailMessage

from orchestrator.actions.registry import ActionFailed, Param, register_action


@register_action(
    "send_email",
    params=[
        Param(
            "to", (str, list), required=True, help="An address, or a list of them.", one_line=True
        ),
        Param("subject", str, required=True, help="A template over the run data.", one_line=True),
        Param("body", str, required=True, help="A template over the run data."),
        Param("from_email", str, one_line=True),
        Param("cc", (str, list), one_line=True),
    ],
    shows_answers=True,
)
def send_email(params, context):
    """Send an email (subject and body are templates over the run data)."""
    to = params["to"] if isinstance(params["to"], list) else [params["to"]]
    to = [address for address in to if address]
    if not to:
        raise ActionFailed("The email has no recipient.")
    cc = params.get("cc") or []
    message = EmailMessage(
        subject=str(params["subject"]).strip(),
        body=str(params["body"]),
        from_email=params.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=cc if isinstance(cc, list) else [cc],
        headers={"X-Idempotency-Key": context.idempotency_key},
    )
    message.send()
    return {"to": to, "subject": message.subject}
