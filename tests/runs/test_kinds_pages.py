"""The pages ask the step kinds (runs/kinds.py) about what the kinds keep beside their step
runs; a kind that keeps nothing answers with the defaults, and the pages still work."""

import datetime

import pytest
import time_machine
from django.db.models import Exists, OuterRef
from django.utils import timezone

from orchestrator.specs import build
from runs import engine
from runs.kinds import StepKind
from runs.models import Run
from runs.selectors import list_page
from runs.selectors.list_page import RunFilters, filtered_runs, run_page, status_counts
from tests.runs.flows import review_flow
from workitems.models import WorkItem


def test_a_kind_answers_nothing_by_default():
    kind = StepKind()
    assert kind.waiting_for([]) == {}
    assert kind.run_page_section(None, []) is None
    assert kind.participant_filter(None) is None
    assert kind.overdue_filter(timezone.now()) is None
    assert kind.fill_history(None, after_run_id=0) == []


@pytest.mark.django_db
def test_with_no_kind_to_ask_no_run_is_overdue(assignee, monkeypatch):
    build(review_flow(reviewer=assignee))
    run = engine.launch("review")
    WorkItem.objects.filter(run=run).update(due_at=timezone.now() - datetime.timedelta(days=1))
    assert [r.pk for r in run_page(RunFilters(overdue=True)).runs] == [run.pk]
    monkeypatch.setattr(list_page, "registered_kinds", lambda: [StepKind()])
    assert run_page(RunFilters(overdue=True)).runs == []
    assert sum(count.count for count in status_counts(RunFilters(overdue=True))) == 0


def test_the_overdue_filter_keeps_its_indexed_shape():
    """Tuned at a million runs: only running or failed runs, and an EXISTS over open work
    items due before now (the partial index wi_open_due). Asking the kinds builds the same
    SQL as the query written against WorkItem did."""
    with time_machine.travel(datetime.datetime(2026, 3, 20, 9, 0, tzinfo=datetime.UTC), tick=False):
        ours = filtered_runs(RunFilters(overdue=True)).query.sql_with_params()
        overdue = WorkItem.objects.filter(
            run=OuterRef("pk"), status="open", due_at__lt=timezone.now()
        )
        before = Run.objects.filter(Exists(overdue)).filter(status__in=["failed", "running"])
        assert ours == before.query.sql_with_params()
