"""Active and retired versions are frozen in the model layer; one active version at a time."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from orchestrator.models import (
    Field,
    Orchestration,
    OrchestrationVersion,
    Stage,
    StageRoute,
    VersionLocked,
)
from orchestrator.specs import build
from tests.orchestrator.flows import request_and_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def active():
    return build(request_and_review())


def parts(version):
    """One row of each definition model that belongs to the version."""
    return {
        "stage": version.stages.first(),
        "step": version.steps.get(key="check"),
        "route": StageRoute.objects.filter(stage__version=version).first(),
        "flow": version.screen_flows.first(),
        "screen": version.screen_flows.first().screens.first(),
        "field": Field.objects.filter(screen__flow__version=version).first(),
    }


@pytest.mark.parametrize("part", ["stage", "step", "route", "flow", "screen", "field"])
def test_saving_a_part_of_an_active_version_is_refused(active, part):
    row = parts(active)[part]

    with pytest.raises(VersionLocked, match="is active and cannot be changed"):
        row.save()


@pytest.mark.parametrize("part", ["stage", "step", "route", "flow", "screen", "field"])
def test_deleting_a_part_of_an_active_version_is_refused(active, part):
    row = parts(active)[part]

    with pytest.raises(VersionLocked):
        row.delete()

    assert type(row).objects.filter(pk=row.pk).exists()


def test_adding_a_stage_to_an_active_version_is_refused(active):
    with pytest.raises(VersionLocked):
        Stage.objects.create(version=active, position=2, key="late", label="Late")


def test_dependency_changes_of_an_active_version_are_refused(active):
    check, decide = active.steps.get(key="check"), active.steps.get(key="decide")

    # The related manager's own transaction is marked broken by the error: a savepoint each.
    with pytest.raises(VersionLocked), transaction.atomic():
        check.depends_on.add(decide)
    with pytest.raises(VersionLocked), transaction.atomic():
        decide.depends_on.remove(check)
    with pytest.raises(VersionLocked), transaction.atomic():
        decide.depends_on.clear()
    with pytest.raises(VersionLocked), transaction.atomic():
        check.dependents.add(decide)

    assert list(decide.depends_on.all()) == [check]
    assert list(check.depends_on.all()) == []


def test_dependency_changes_of_a_draft_are_allowed():
    draft = build(request_and_review(), activate=False)
    check, decide = draft.steps.get(key="check"), draft.steps.get(key="decide")

    decide.depends_on.remove(check)
    check.depends_on.add(decide)

    assert list(check.depends_on.all()) == [decide]


def test_retiring_an_active_version_is_allowed(active):
    active.status = OrchestrationVersion.Status.RETIRED
    active.save()

    active.refresh_from_db()
    assert active.status == "retired"


def test_a_retired_version_cannot_be_changed(active):
    active.status = OrchestrationVersion.Status.RETIRED
    active.save()

    active.notes = "Fixed a typo."
    with pytest.raises(VersionLocked, match="is retired and cannot be changed"):
        active.save()
    active.refresh_from_db()
    active.status = OrchestrationVersion.Status.ACTIVE
    with pytest.raises(VersionLocked):
        active.save()
    with pytest.raises(VersionLocked, match="is retired and cannot be changed"):
        parts(active)["step"].save()


def test_an_active_version_cannot_be_deleted(active):
    with pytest.raises(VersionLocked, match="retire it instead"):
        active.delete()


def test_a_draft_can_be_changed_and_deleted():
    draft = build(request_and_review(), activate=False)
    parts(draft)["stage"].save()

    draft.delete()

    assert not OrchestrationVersion.objects.filter(pk=draft.pk).exists()


def test_activating_retires_the_previous_active_version(active):
    second = build(request_and_review(), activate=False)

    second.activate()

    active.refresh_from_db()
    second.refresh_from_db()
    assert (active.status, second.status) == ("retired", "active")
    assert second.activated_at is not None
    assert active.orchestration.active_version == second


def test_an_invalid_version_is_not_activated_and_says_why(active):
    second = build(request_and_review(), activate=False)
    Stage.objects.create(version=second, position=2, key="archive", label="Archive")

    with pytest.raises(ValidationError) as raised:
        second.activate()

    assert raised.value.messages == [
        'Stage "Archive" has no steps; every stage needs at least one step.'
    ]
    second.refresh_from_db()
    active.refresh_from_db()
    assert (active.status, second.status) == ("active", "draft")


def test_the_database_allows_one_active_version_per_orchestration(active):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrchestrationVersion.objects.create(
            orchestration=active.orchestration, number=2, status=OrchestrationVersion.Status.ACTIVE
        )

    other = OrchestrationVersion.objects.create(
        orchestration=Orchestration.objects.create(key="other", name="Other"),
        number=1,
        status="active",
    )
    assert other.status == "active"


def test_a_screen_flow_in_use_cannot_be_deleted_alone():
    draft = build(request_and_review(), activate=False)

    with pytest.raises(RestrictedError), transaction.atomic():
        draft.screen_flows.get(key="decide").delete()
