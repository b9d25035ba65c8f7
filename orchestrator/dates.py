"""How a moment reads in a sentence: "at 10:42" today, else "on 3 Dec 2026 at 10:42"."""

from django.utils import timezone
from django.utils.formats import date_format


def said_when(moment) -> str:
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return f"at {date_format(local, 'H:i')}"
    return f"on {date_format(local, 'j M Y')} at {date_format(local, 'H:i')}"
