"""/runs/<id>/progress/: the whole process for the people who took part in a run."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from tests.runs.engine_helpers import complete
from tests.runs.flows import review_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(assignee, make_user):
    build(review_flow(reviewer=assignee))
    return engine.launch("review", started_by=make_user("sam", first_name="Sam"))


def progress_of(client, run):
    return client.get(reverse("runs:progress", args=[run.pk]))


def test_the_assignee_sees_the_process_and_that_it_waits_for_them(client, assignee, run):
    client.force_login(assignee)
    response = progress_of(client, run)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Review") < html.index("Notify")  # stages left to right, in order
    assert "Manager approval" in html and "Announce" in html
    assert "Waiting for <strong>Ana</strong> (Manager approval)" in " ".join(html.split())
    assert 'aria-current="step"' in html
    # The shape of the process, not the data: no answers, no operator links.
    assert f'href="{reverse("runs:detail", args=[run.pk])}"' not in html


def test_the_starter_sees_the_progress(client, run):
    client.force_login(run.started_by)
    assert progress_of(client, run).status_code == 200


def test_whoever_completed_a_step_still_sees_it_afterwards(client, assignee, run):
    complete(run, "approval", assignee, decision="approve")
    client.force_login(assignee)
    assert progress_of(client, run).status_code == 200


def test_queue_and_group_members_of_a_work_item_see_it(
    client, queue, queue_member, group, group_member
):
    steps = [StepSpec("laptop", assignee=queue), StepSpec("desk", assignee=group)]
    build(OrchestrationSpec("desk", stages=[StageSpec("one", steps=steps)]))
    run = engine.launch("desk")
    for member in (queue_member, group_member):
        client.force_login(member)
        assert progress_of(client, run).status_code == 200


def test_someone_who_took_no_part_gets_404(client, outsider, run):
    client.force_login(outsider)
    assert progress_of(client, run).status_code == 404


def test_a_participant_gets_404_for_other_runs(client, assignee, run, make_user):
    other = engine.launch("review", started_by=make_user("tom"))
    client.force_login(run.started_by)
    assert progress_of(client, other).status_code == 404


def test_staff_see_every_run(client, operator, run):
    client.force_login(operator)
    response = progress_of(client, run)
    assert response.status_code == 200
    assert f'href="{reverse("runs:detail", args=[run.pk])}"' in response.content.decode()


def test_staff_without_the_run_viewing_permission_who_took_no_part_get_404(client, make_user, run):
    # A designer: staff, with every permission of the definitions, none of the runs'.
    designer = make_user("dina", is_staff=True)
    designer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="orchestrator")
    )
    client.force_login(designer)
    assert progress_of(client, run).status_code == 404


def test_the_run_viewing_permission_alone_is_enough(client, make_user, run):
    viewer = make_user("vic")
    viewer.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.force_login(viewer)
    response = progress_of(client, run)
    assert response.status_code == 200
    # Not staff: no link to the run page, which is the operators'.
    assert f'href="{reverse("runs:detail", args=[run.pk])}"' not in response.content.decode()


def test_staff_who_took_part_see_their_run(client, make_user, run):
    run.started_by.is_staff = True
    run.started_by.save(update_fields=["is_staff"])
    client.force_login(run.started_by)
    assert progress_of(client, run).status_code == 200


def test_a_missing_run_is_404_and_post_is_405(client, assignee, run):
    client.force_login(assignee)
    assert client.get(reverse("runs:progress", args=[run.pk + 1000])).status_code == 404
    assert client.post(reverse("runs:progress", args=[run.pk])).status_code == 405


def test_anonymous_users_are_sent_to_log_in(client, run):
    response = progress_of(client, run)
    assert response.status_code == 302


def test_the_diagram_polls_while_running_and_stops_when_finished(client, assignee, run):
    client.force_login(assignee)
    assert 'hx-trigger="every 5s"' in progress_of(client, run).content.decode()
    complete(run, "approval", assignee, decision="approve")
    from tests.runs.engine_helpers import work_background

    work_background(run)
    response = client.get(reverse("runs:progress", args=[run.pk]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert "hx-trigger" not in html
    assert "Finished" in html


def test_queue_and_group_steps_say_whom_they_wait_for(client, operator, queue, group, assignee):
    steps = [
        StepSpec("laptop", "Laptop", assignee=queue),
        StepSpec("desk", "Desk", assignee=group),
        StepSpec("badge", "Badge", assignee=assignee),
    ]
    build(OrchestrationSpec("desk", stages=[StageSpec("one", steps=steps)]))
    run = engine.launch("desk")
    client.force_login(operator)
    progress = progress_of(client, run).context["progress"]
    assert progress.waiting_for == [
        ("Laptop", "the IT queue"),
        ("Desk", "the Facilities group"),
        ("Badge", "Ana"),
    ]


def test_the_progress_page_costs_a_fixed_number_of_queries(
    client, assignee, queue, group, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def parallel(key: str, count: int):
        assignees = [assignee, queue, group]
        steps = [StepSpec(f"s{n}", assignee=assignees[n % 3]) for n in range(count)]
        end = StepSpec("end", assignee=assignee)
        build(
            OrchestrationSpec(
                key, stages=[StageSpec("one", steps=steps), StageSpec("two", steps=[end])]
            )
        )
        return engine.launch(key, started_by=assignee)

    small, large = parallel("small", 1), parallel("large", 30)
    client.force_login(assignee)
    progress_of(client, small)  # warm the plan cache and the session
    progress_of(client, large)
    with CaptureQueriesContext(connection) as one_step:
        progress_of(client, small)
    # Ours: the participant check, stage runs, step runs, the open work items' assignees.
    # The rest is the session, the user, the run, the navigation's open count (memberships
    # and the count) and the user's permissions (the "Run details" link).
    assert len(one_step) <= 12
    with django_assert_num_queries(len(one_step)):
        response = progress_of(client, large)
    assert len(response.context["progress"].waiting_for) == 30
