"""The definitions in the admin: pages render, locked versions are read-only, and the
Validate / Activate / New draft buttons answer with messages."""

from decimal import Decimal

import pytest
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.urls import reverse
from django.utils.html import escape

from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Queue,
    Screen,
    ScreenFlow,
    Stage,
    StageRoute,
    Step,
)
from orchestrator.specs import build
from tests.orchestrator.flows import request_and_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def draft():
    return build(request_and_review(), activate=False)


@pytest.fixture
def active():
    return build(request_and_review())


def version_url(version, view="change") -> str:
    return reverse(f"admin:orchestrator_orchestrationversion_{view}", args=[version.pk])


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_draft_version_page_shows_the_tree_and_editable_inlines(admin_client, draft):
    response = admin_client.get(version_url(draft))

    assert response.status_code == 200
    content = response.content.decode()
    for text in ["Request form", "Decide", "after Check", "Amount", "end the run (rejected)"]:
        assert text in content
    assert 'name="stages-0-key"' in content
    assert 'name="steps-0-stage"' in content
    assert "New draft from this version" in content
    assert ">Activate<" in content
    assert "cannot be changed" not in content


def test_active_version_page_is_read_only_with_a_note(admin_client, active):
    response = admin_client.get(version_url(active))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Active versions cannot be changed; make a new draft from this version" in content
    assert 'name="stages-0-key"' not in content
    assert ">Activate<" not in content
    assert "New draft from this version" in content
    assert "Request form" in content


def test_saving_an_active_version_in_the_admin_is_forbidden(admin_client, active):
    response = admin_client.post(version_url(active), {"notes": "changed"})

    assert response.status_code == 403


def test_part_of_an_active_version_is_read_only(admin_client, active):
    step = active.steps.get(key="decide")
    url = reverse("admin:orchestrator_step_change", args=[step.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert "Active versions cannot be changed" in response.content.decode()
    assert admin_client.post(url, {"label": "New"}).status_code == 403


def test_validate_shows_success(admin_client, draft):
    response = admin_client.post(version_url(draft, "validate"), follow=True)

    assert response.redirect_chain == [(version_url(draft), 302)]
    assert shown_messages(response) == ["Onboarding v1 (Draft) is valid."]


def test_validate_shows_every_problem_as_a_message(admin_client, draft):
    Stage.objects.create(version=draft, position=2, key="archive", label="Archive")
    Step.objects.filter(key="check").update(action="send_fax")

    response = admin_client.post(version_url(draft, "validate"), follow=True)

    messages = shown_messages(response)
    assert len(messages) == 2
    assert messages[0] == 'Stage "Archive" has no steps; every stage needs at least one step.'
    assert messages[1].startswith('Step "Check" uses the unknown action "send_fax"')


def test_validate_needs_post(admin_client, draft):
    assert admin_client.get(version_url(draft, "validate")).status_code == 405


def test_the_buttons_are_for_staff_only(client, assignee, draft):
    client.force_login(assignee)

    response = client.post(version_url(draft, "activate"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_activate_makes_the_version_active_and_retires_the_previous(admin_client, active):
    second = build(request_and_review(), activate=False)

    response = admin_client.post(version_url(second, "activate"), follow=True)

    assert shown_messages(response) == [
        "Version 2 of Onboarding is now active. Version 1 was retired."
    ]
    second.refresh_from_db()
    active.refresh_from_db()
    assert (second.status, active.status) == ("active", "retired")


def test_activate_validates_first_and_shows_each_problem(admin_client, draft):
    Stage.objects.create(version=draft, position=2, key="archive", label="Archive")
    Stage.objects.create(version=draft, position=3, key="audit", label="Audit")

    response = admin_client.post(version_url(draft, "activate"), follow=True)

    assert shown_messages(response) == [
        'Stage "Archive" has no steps; every stage needs at least one step.',
        'Stage "Audit" has no steps; every stage needs at least one step.',
    ]
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_activating_a_retired_version_says_to_make_a_new_draft(admin_client, active):
    build(request_and_review())

    response = admin_client.post(version_url(active, "activate"), follow=True)

    assert shown_messages(response) == [
        "Version 1 is retired and cannot be changed. Make a new draft from it instead."
    ]


def test_new_draft_redirects_to_the_copy(admin_client, active):
    response = admin_client.post(version_url(active, "new_draft"))

    copy = OrchestrationVersion.objects.get(orchestration=active.orchestration, number=2)
    assert response.status_code == 302
    assert response.url == version_url(copy)
    assert copy.status == "draft"
    assert copy.steps.count() == active.steps.count()


def test_list_actions_validate_and_activate(admin_client, draft):
    changelist = reverse("admin:orchestrator_orchestrationversion_changelist")

    response = admin_client.post(
        changelist, {"action": "validate_selected", "_selected_action": [draft.pk]}, follow=True
    )
    assert shown_messages(response) == ["Onboarding v1 (Draft) is valid."]

    response = admin_client.post(
        changelist, {"action": "activate_selected", "_selected_action": [draft.pk]}, follow=True
    )
    assert "Version 1 of Onboarding is now active." in shown_messages(response)[0]


def test_list_action_new_draft_redirects_to_the_copy(admin_client, active):
    changelist = reverse("admin:orchestrator_orchestrationversion_changelist")

    response = admin_client.post(
        changelist, {"action": "new_draft_from_selected", "_selected_action": [active.pk]}
    )

    copy = active.orchestration.versions.get(number=2)
    assert response.url == version_url(copy)


@pytest.mark.parametrize(
    "model",
    [Orchestration, OrchestrationVersion, Stage, StageRoute, Step, ScreenFlow, Screen, Field],
)
def test_every_definition_page_renders(admin_client, draft, model):
    opts = model._meta
    row = model.objects.first()

    changelist = admin_client.get(reverse(f"admin:orchestrator_{opts.model_name}_changelist"))
    change = admin_client.get(
        reverse(f"admin:orchestrator_{opts.model_name}_change", args=[row.pk])
    )
    add = admin_client.get(reverse(f"admin:orchestrator_{opts.model_name}_add"))

    assert (changelist.status_code, change.status_code, add.status_code) == (200, 200, 200)


def test_queue_admin_lists_queues_with_members(admin_client, queue, queue_member):
    changelist = admin_client.get(reverse("admin:orchestrator_queue_changelist"))
    change = admin_client.get(reverse("admin:orchestrator_queue_change", args=[queue.pk]))

    assert changelist.status_code == change.status_code == 200
    members = change.context["adminform"].form.fields["members"]
    assert isinstance(members.widget.widget, FilteredSelectMultiple)
    assert list(members.initial or Queue.objects.get().members.all()) == [queue_member]


def test_step_page_offers_only_its_versions_stages_and_steps(admin_client, draft, active):
    step = draft.steps.get(key="decide")

    response = admin_client.get(reverse("admin:orchestrator_step_change", args=[step.pk]))

    form = response.context["adminform"].form
    assert set(form.fields["stage"].queryset) == set(draft.stages.all())
    assert set(form.fields["depends_on"].queryset) == set(draft.steps.all())
    assert set(form.fields["screen_flow"].queryset) == set(draft.screen_flows.all())


def test_exclusions_and_confidential_readers_offer_only_the_versions_steps(
    admin_client, draft, active
):
    step = draft.steps.get(key="decide")
    field = Field.objects.get(screen__flow__version=draft, key="amount")

    step_form = (
        admin_client.get(reverse("admin:orchestrator_step_change", args=[step.pk]))
        .context["adminform"]
        .form
    )
    field_form = (
        admin_client.get(reverse("admin:orchestrator_field_change", args=[field.pk]))
        .context["adminform"]
        .form
    )

    assert "exclude_starter" in step_form.fields
    assert set(step_form.fields["exclude_completers_of"].queryset) == set(draft.steps.all())
    assert "confidential" in field_form.fields
    assert set(field_form.fields["visible_to_steps"].queryset) == set(draft.steps.all())


def test_editing_a_draft_in_the_admin_saves(admin_client, draft):
    stage = draft.stages.get(key="review")
    url = reverse("admin:orchestrator_stage_change", args=[stage.pk])
    data = {
        "version": draft.pk,
        "position": 5,
        "key": "review",
        "label": "Final review",
        "entry_condition": "",
        "exit_condition": "",
        "steps-TOTAL_FORMS": 0,
        "steps-INITIAL_FORMS": 0,
        "routes-TOTAL_FORMS": 0,
        "routes-INITIAL_FORMS": 0,
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.label, stage.position) == ("Final review", 5)


def test_a_number_fields_digits_and_bounds_are_edited_in_the_admin(admin_client, draft):
    field = Field.objects.filter(screen__flow__version=draft).first()
    url = reverse("admin:orchestrator_field_change", args=[field.pk])
    data = {
        "screen": field.screen_id,
        "position": 0,
        "key": "amount",
        "label": "Amount",
        "type": "decimal",
        "required": "on",
        "choices": "[]",
        "max_digits": 10,
        "decimal_places": 4,
        "min_value": "0.5",
        "max_value": "1000",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    field.refresh_from_db()
    assert (field.max_digits, field.decimal_places) == (10, 4)
    assert (field.min_value, field.max_value) == (Decimal("0.5"), Decimal("1000"))


def test_an_orchestration_with_an_active_version_cannot_be_deleted(admin_client, active):
    url = reverse("admin:orchestrator_orchestration_delete", args=[active.orchestration.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert OrchestrationVersion.objects.filter(pk=active.pk).exists()


def test_an_orchestration_with_only_drafts_can_be_deleted(admin_client, draft):
    url = reverse("admin:orchestrator_orchestration_delete", args=[draft.orchestration.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Orchestration.objects.exists()


def test_the_version_page_and_its_messages_show_designer_markup_escaped_once(admin_client, draft):
    """A staff designer's markup is text for the superuser who opens the version."""
    script = "<script>alert('{}')</script>".format
    Stage.objects.filter(version=draft, key="review").update(label=script("stage"))
    Step.objects.filter(version=draft, key="decide").update(
        label=script("step"), instructions="{% debug %}"
    )
    ScreenFlow.objects.filter(version=draft).update(label=script("flow"))
    Screen.objects.filter(flow__version=draft).update(title=script("screen"))
    Field.objects.filter(screen__flow__version=draft).update(label=script("field"))

    response = admin_client.post(version_url(draft, "validate"), follow=True)

    html = response.content.decode()
    for where in ("stage", "step", "flow", "screen", "field"):
        assert escape(script(where)) in html, where
        assert escape(escape(script(where))) not in html, where
    assert "<script>alert" not in html
    [message] = shown_messages(response)
    assert message.startswith(
        f'The instructions of step "{script("step")}" are not a valid template: The tag '
        "{% debug %} is not allowed"
    )
    assert escape(message) in html
