"""New draft from a version: the whole tree copied, references remapped, the original intact."""

import pytest

from orchestrator.models import Field, OrchestrationVersion, Screen, StageRoute, Step
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from orchestrator.validation import validate_version
from tests.orchestrator.flows import request_and_review

pytestmark = pytest.mark.django_db


def tree(version) -> dict:
    """The version's definition as plain values (no ids), to compare a copy with its original."""
    steps = version.steps.order_by("key")
    return {
        "stages": list(version.stages.values_list("key", "label", "position", "entry_condition")),
        "routes": [
            (r.stage.key, r.condition, r.action, r.target_stage and r.target_stage.key, r.outcome)
            for r in StageRoute.objects.filter(stage__version=version).order_by("stage", "position")
        ],
        "steps": [
            (
                s.key,
                s.stage.key,
                s.kind,
                s.screen_flow and s.screen_flow.key,
                s.action,
                s.parameters,
                s.instructions,
                sorted(d.key for d in s.depends_on.all()),
            )
            for s in steps
        ],
        "flows": list(version.screen_flows.values_list("key", "label")),
        "screens": list(
            Screen.objects.filter(flow__version=version).values_list("flow__key", "title")
        ),
        "fields": list(
            Field.objects.filter(screen__flow__version=version)
            .order_by("screen__flow__key", "key")
            .values_list("screen__flow__key", "key", "type", "choices", "default")
        ),
    }


@pytest.fixture
def active():
    return build(request_and_review())


def test_new_draft_copies_the_whole_tree(active, django_assert_max_num_queries):
    before = tree(active)

    # One read per table and link table (dependencies, exclusions, confidential readers).
    with django_assert_max_num_queries(21):
        draft = active.new_draft()

    assert (draft.status, draft.number, draft.orchestration) == ("draft", 2, active.orchestration)
    assert tree(draft) == before
    assert validate_version(draft) == []


def test_copied_references_point_into_the_draft(active):
    draft = active.new_draft()

    route = StageRoute.objects.get(stage__version=draft, target_stage__isnull=False)
    assert route.target_stage.version == draft
    decide = draft.steps.get(key="decide")
    assert decide.stage.version == draft
    assert decide.screen_flow.version == draft
    assert [step.version for step in decide.depends_on.all()] == [draft]
    assert Screen.objects.filter(flow__version=draft).count() == 2


def test_the_original_is_untouched(active):
    before = tree(active)
    ids = set(Step.objects.filter(version=active).values_list("id", flat=True))

    active.new_draft()

    active.refresh_from_db()
    assert active.status == "active"
    assert tree(active) == before
    assert set(Step.objects.filter(version=active).values_list("id", flat=True)) == ids


def test_the_draft_is_numbered_after_the_highest_version(active):
    second = active.new_draft()

    third = active.new_draft()

    assert (second.number, third.number) == (2, 3)
    assert third.notes == "Made from version 1."


def test_the_draft_can_be_changed_and_activated(active):
    draft = active.new_draft()
    step = draft.steps.get(key="check")
    step.label = "Check again"
    step.save()

    draft.activate()

    active.refresh_from_db()
    assert active.status == OrchestrationVersion.Status.RETIRED
    assert active.steps.get(key="check").label == "Check"


def test_separation_of_duties_and_confidential_readers_are_copied_into_the_draft():
    form = StepSpec(
        "form",
        assignee="starter",
        fields=[FieldSpec("salary", type="decimal", confidential=True, visible_to=["approve"])],
    )
    approve = StepSpec(
        "approve", assignee="starter", exclude_starter=False, exclude_completers_of=["form"]
    )
    active = build(
        OrchestrationSpec(
            "duties", stages=[StageSpec("one", steps=[form]), StageSpec("two", steps=[approve])]
        )
    )

    draft = active.new_draft()

    copied = draft.steps.get(key="approve")
    assert [step.pk for step in copied.exclude_completers_of.all()] == [
        draft.steps.get(key="form").pk
    ]
    salary = Field.objects.get(screen__flow__version=draft, key="salary")
    assert salary.confidential
    assert list(salary.visible_to_steps.all()) == [copied]
