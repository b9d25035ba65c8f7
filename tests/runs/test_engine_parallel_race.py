"""Stage 2 of employee onboarding finished from three threads at once, over many runs."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from runs import engine
from runs.models import RunEvent, StageRun, StepRun
from tests.runs.engine_helpers import complete
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 100


def test_parallel_steps_finishing_together_start_the_next_stage_exactly_once(live_server, settings):
    # Without the run lock, the last two steps of stage 2 could each see "the other one is
    # still open" (or both see "all done"): stage 3 never started, or started twice. Under
    # the lock the last one to commit always sees the others done, and only it moves on.
    settings.PAYROLL_API_URL = f"{live_server.url}/demo/payroll/employees/"
    call_command("seed_demo", verbosity=0)
    users = {u.username: u for u in get_user_model().objects.all()}
    failures = []
    for n in range(RUNS):
        run = engine.launch("employee-onboarding", started_by=users["hr"])
        complete(
            run,
            "new_hire_form",
            users["hr"],
            full_name=f"Hire {n}",
            email=f"hire{n}@example.com",
            start_date="2027-01-04",
            department="Engineering",
            job_title="Engineer",
            manager=users["manager"].pk,
            annual_salary=90000.0,
        )
        it_item = WorkItem.objects.get(run=run, step__key="provision_it", status="open")
        WorkItem.objects.filter(pk=it_item.pk).update(owner=users["it"])
        _finish_stage_two_at_once(run, users, failures, n)

        approval_stage_runs = StageRun.objects.filter(run=run, stage__key="approval")
        assert approval_stage_runs.count() == 1, f"run {n}"
        assert approval_stage_runs.get().status == "active", f"run {n}"
        assert (
            RunEvent.objects.filter(run=run, kind="stage.started", data__stage="approval").count()
            == 1
        )
        assert WorkItem.objects.filter(run=run, step__key="manager_approval").count() == 1
        assert (
            RunEvent.objects.filter(
                run=run, kind="stage.completed", data__stage="provision"
            ).count()
            == 1
        )
    assert failures == []


def _finish_stage_two_at_once(run, users, failures, n) -> None:
    """IT, Facilities and the payroll worker finish stage 2 from three threads at once."""
    payroll = StepRun.objects.get(run=run, step__key="setup_payroll")
    barrier = threading.Barrier(3)

    def act(what):
        try:
            barrier.wait(timeout=10)
            if what == "it":
                complete(
                    run,
                    "provision_it",
                    users["it"],
                    laptop_model="Dell XPS 13",
                    accounts_created=True,
                    asset_tag="A1",
                )
            elif what == "desk":
                complete(
                    run, "assign_desk", users["facilities"], building="North", desk_number="12"
                )
            else:
                engine.execute_attempt(run_id=run.pk, step_run_id=payroll.pk, attempt=1)
        except Exception as exc:
            failures.append((n, what, repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(what,)) for what in ("it", "desk", "payroll")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "deadlock"
