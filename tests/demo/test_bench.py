"""`manage.py bench` on the test database: a few runs, every figure printed, the last line
in the form the issue asks for, and everything it changed for the runs put back."""

import io
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from demo.management.commands.bench import Command
from notifications.tasks import deliver
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run
from runs.tasks import execute_step
from tests.support.worker import worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)

LAST_LINE = re.compile(
    r"^bench: runs/s=(\d+\.\d) sql/run=(\d+\.\d) commits/run=(\d+\.\d) ratio=(\d+\.\d\d)$"
)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: the bench measures PostgreSQL and refuses to run on SQLite",
)
def test_bench_runs_onboarding_to_completion_and_prints_its_figures(monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", worker_database_url())  # the payroll server's database
    payroll_url = settings.PAYROLL_API_URL
    out = io.StringIO()
    # Gunicorns of other checkouts on this machine are theirs; the bench must leave none.
    others = set(_gunicorn_processes())

    call_command("bench", runs=3, warmup=1, stdout=out)

    lines = out.getvalue().splitlines()
    runs_per_second, sql, commits, ratio = map(float, LAST_LINE.match(lines[-1]).groups())
    assert runs_per_second > 0 and ratio > 0
    # The ceiling for SQL statements per run: 47 for the engine, and 5 for the outbox (an
    # INSERT of its rows when work opens, three times, and when the run ends; one read of
    # the IT queue's and the Facilities group's members).
    assert 0 < sql <= 52
    assert commits == 11.0  # launch, 4 completions, a claim, 2 x (take, record), payroll
    assert any(line.startswith("ms per run: mean") for line in lines)
    assert Run.objects.filter(status=Run.Status.COMPLETED).count() == 4
    # What it changed for the runs is back as it was.
    assert not set(_gunicorn_processes()) - others
    assert payroll_url == settings.PAYROLL_API_URL
    assert "apply_async" not in vars(execute_step._get_current_object())
    assert "apply_async" not in vars(deliver._get_current_object())
    assert "commit" not in vars(connections["default"])


def _gunicorn_processes() -> list[Path]:
    """gunicorn processes started in this checkout, as the bench starts its own: not those of
    other checkouts or test runs on a shared machine."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"gunicorn" in cmdline.read_bytes() and (
                (cmdline.parent / "cwd").resolve() == Path(django_settings.BASE_DIR).resolve()
            ):
                found.append(cmdline)
        except OSError:  # gone meanwhile
            pass
    return found


def test_a_run_that_did_not_complete_fails_the_bench(assignee):
    assign_desk = StepSpec("assign_desk", assignee=assignee)
    build(OrchestrationSpec("desk", stages=[StageSpec("book", steps=[assign_desk])]))
    run = engine.launch("desk")  # waits for the assignee: not completed

    with pytest.raises(CommandError, match=f"Run {run.pk} ended running, not completed."):
        Command()._check_completed([run.pk])
