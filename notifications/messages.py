"""Emails built from parts: the text part is the parts as written (plain text: a designer's
`<b>` reads as `<b>`); the HTML part is a template that escapes every part once."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format

from notifications.outbox import Email


def build_email(
    *,
    subject: str,
    paragraphs: list[str],
    facts: list[tuple[str, str]] = (),
    link: str = "",
    link_label: str = "Open it",
) -> Email:
    text = "\n\n".join(paragraphs)
    if facts:
        text += "\n\n" + "\n".join(f"{label}: {value}" for label, value in facts)
    if link:
        text += f"\n\n{link_label}: {link}"
    html = render_to_string(
        "notifications/email.html",
        {
            "subject": subject,
            "paragraphs": paragraphs,
            "facts": facts,
            "link": link,
            "link_label": link_label,
        },
    )
    return Email(subject=subject, text=text + "\n", html=html)


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def moment(value) -> str:
    """A date and time as people read it in an email: "3 Dec 2026, 10:42"."""
    return date_format(timezone.localtime(value), "j M Y, H:i")
