"""Launch a run through the engine and find its open work items."""

from runs import engine
from workitems.models import WorkItem


def launch(key: str, *, started_by=None, inputs=None) -> WorkItem:
    """Launch a run and return its first open work item."""
    run = engine.launch(key, started_by=started_by, inputs=inputs)
    return WorkItem.objects.filter(run=run, status=WorkItem.Status.OPEN).order_by("id").first()


def open_item(run_id: int) -> WorkItem | None:
    return WorkItem.objects.filter(run_id=run_id, status=WorkItem.Status.OPEN).first()
