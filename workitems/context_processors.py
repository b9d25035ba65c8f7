"""The user's open work item count, for the number beside "Inbox" in the navigation."""

from django.http import HttpRequest

from workitems.queries import open_count


def open_work_items(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it only when it shows the navigation, and open_count()
    # keeps the number on the user for the rest of the request.
    return {"open_count": lambda: open_count(user)}
