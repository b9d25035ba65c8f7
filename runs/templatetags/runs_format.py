"""Template filters of the run pages: durations and ages in a few characters."""

import datetime
import json

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    """'45s', '12m', '3h 5m', '2d 4h'; '—' when there is none."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if minutes < 10 and seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


@register.filter
def between(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    """The duration from start to end (or to now, for something still going on)."""
    if start is None:
        return "—"
    return duration((end or timezone.now()) - start)


@register.filter
def age(moment: datetime.datetime | None) -> str:
    return between(moment, None)


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for reading (escaped by the template like any text)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
