"""The outbox's fixtures: a real SMTP server, and orchestrations that open work for a person,
a queue of three and a group."""

import pytest
from django.contrib.auth.models import Group

from orchestrator.models import Queue
from orchestrator.specs import (
    APPROVE,
    COMMENT,
    REJECT,
    OrchestrationSpec,
    RouteSpec,
    StageSpec,
    StepSpec,
    build,
    decision,
)
from tests.notifications.smtp import SmtpServer


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """The SMTP server, and this process's email settings pointing at it."""
    for name, value in smtp_server.settings().items():
        setattr(settings, name, value)
    return smtp_server


@pytest.fixture
def queue_of_three(make_user):
    queue = Queue.objects.create(key="it", name="IT")
    queue.members.add(*(make_user(name) for name in ("ida", "ivo", "ines")))
    return queue


@pytest.fixture
def laptop_flow(queue_of_three):
    provision = StepSpec("provision", "Provision laptop", assignee=queue_of_three)
    return build(
        OrchestrationSpec("laptop", "Laptop request", stages=[StageSpec("it", steps=[provision])])
    )


@pytest.fixture
def approval_flow(assignee):
    """Ana decides; "reject" ends the run with the outcome "rejected"."""
    approve = StepSpec(
        "approval",
        "Manager approval",
        assignee=assignee,
        fields=[decision(APPROVE, REJECT), COMMENT],
    )
    routes = [RouteSpec('approval.decision == "reject"', end="rejected")]
    return build(
        OrchestrationSpec(
            "purchase", "Purchase", stages=[StageSpec("approve", steps=[approve], routes=routes)]
        )
    )


@pytest.fixture
def facilities(make_user):
    group = Group.objects.create(name="Facilities")
    for name in ("fay", "fred"):
        make_user(name).groups.add(group)
    return group
