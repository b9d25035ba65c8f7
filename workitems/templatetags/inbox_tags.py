"""Small template helpers for the inbox and work item pages."""

import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def age(moment: datetime.datetime | None) -> str:
    """How long ago, in one short unit: "5 min", "3 h", "2 days", "6 weeks"."""
    if moment is None:
        return ""
    seconds = max(int((timezone.now() - moment).total_seconds()), 0)
    if seconds < 3600:
        return f"{max(seconds // 60, 1)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    days = seconds // 86400
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{days // 7} weeks"


@register.filter
def due(moment: datetime.datetime | None) -> str:
    """A due date as a person reads it: "today 17:00", "tomorrow 09:00", "3 Mar 2025"."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    today = timezone.localdate()
    if local.date() == today:
        return f"today {local:%H:%M}"
    if local.date() == today + datetime.timedelta(days=1):
        return f"tomorrow {local:%H:%M}"
    if local.date() == today - datetime.timedelta(days=1):
        return f"yesterday {local:%H:%M}"
    if local.year == today.year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"
