"""manage.py fill_run_history: runs, stage runs and step runs in bulk SQL, then each step
kind's own rows (the interactive kind's work items, from workitems/history.py)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from orchestrator.specs import build
from runs.models import Run, StepRun
from tests.runs.flows import review_flow
from workitems.models import WorkItem

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the command is PostgreSQL's"),
]


def test_the_interactive_kind_adds_a_work_item_per_started_step_run(assignee):
    build(review_flow(reviewer=assignee))
    out = StringIO()
    call_command("fill_run_history", runs=60, stdout=out)
    assert Run.objects.count() == 60
    started = StepRun.objects.filter(step__kind="interactive", started_at__isnull=False)
    assert WorkItem.objects.count() == started.count() > 0
    waiting = started.filter(status=StepRun.Status.WAITING).count()
    assert WorkItem.objects.filter(status=WorkItem.Status.OPEN).count() == waiting
    assert "work items in" in out.getvalue()


def test_no_kind_rows_leaves_the_kinds_out(assignee):
    build(review_flow(reviewer=assignee))
    call_command("fill_run_history", runs=10, no_kind_rows=True, stdout=StringIO())
    assert Run.objects.count() == 10
    assert not WorkItem.objects.exists()
