"""Who may see a work item and who may act on it: the one place these rules live.

A work item is seen by its assignee, by the members of its queue or group, by whoever owns
(claimed) or completed it, and by staff holding `workitems.reassign_any_workitem`. Everyone
else gets a 404 from the views, whatever the id.
"""

import enum
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, QuerySet

from orchestrator.models import Orchestration, OrchestrationVersion, Queue
from workitems.models import WorkItem

REASSIGN_ANY = "workitems.reassign_any_workitem"


@dataclass(frozen=True)
class Memberships:
    queue_ids: frozenset[int]
    group_ids: frozenset[int]


def memberships(user) -> Memberships:
    """The user's queues and groups (two small queries, kept on the user object for the
    request, so the inbox, the nav count and the access checks share them)."""
    cached = getattr(user, "_workitem_memberships", None)
    if cached is None:
        cached = Memberships(
            queue_ids=frozenset(
                Queue.members.through.objects.filter(user_id=user.pk).values_list(
                    "queue_id", flat=True
                )
            ),
            group_ids=frozenset(
                Group.user_set.through.objects.filter(user_id=user.pk).values_list(
                    "group_id", flat=True
                )
            ),
        )
        user._workitem_memberships = cached
    return cached


def can_reassign_any(user) -> bool:
    return user.is_active and user.has_perm(REASSIGN_ANY)


class Role(enum.Enum):
    """What a user is to one work item."""

    ACTOR = "actor"  # may fill in and complete it: the assignee, the owner, a group member
    QUEUE_MEMBER = "queue member"  # sees it; must claim it first (or someone else owns it)
    OBSERVER = "observer"  # sees it (staff with the permission, or who completed it)
    NONE = "none"  # must not even learn that it exists


def role_of(user, item: WorkItem) -> Role:
    if not user.is_authenticated:
        return Role.NONE
    mine = memberships(user)
    if item.assignee_user_id is not None and item.assignee_user_id == user.pk:
        return Role.ACTOR
    if item.assignee_queue_id is not None and item.owner_id == user.pk:
        return Role.ACTOR
    if item.assignee_group_id is not None and item.assignee_group_id in mine.group_ids:
        return Role.ACTOR
    if item.assignee_queue_id is not None and item.assignee_queue_id in mine.queue_ids:
        return Role.QUEUE_MEMBER
    if item.completed_by_id == user.pk or item.owner_id == user.pk or can_reassign_any(user):
        return Role.OBSERVER
    return Role.NONE


def can_see(user, item: WorkItem) -> bool:
    return role_of(user, item) is not Role.NONE


def can_reassign(user, item: WorkItem) -> bool:
    """The assignee of a personal item, or the owner of a claimed queue item, when the step
    allows it; staff with the permission always."""
    if can_reassign_any(user):
        return True
    if not item.step.allow_reassign:
        return False
    if item.assignee_user_id is not None:
        return item.assignee_user_id == user.pk
    return item.assignee_queue_id is not None and item.owner_id == user.pk


def startable_orchestrations(user) -> QuerySet:
    """The orchestrations `user` may start from /start/: those with an active version whose
    starter groups include one of the user's groups; all of them for staff holding
    `orchestrator.start_any_orchestration` (and superusers)."""
    active = OrchestrationVersion.objects.filter(
        orchestration=OuterRef("pk"), status=OrchestrationVersion.Status.ACTIVE
    )
    orchestrations = Orchestration.objects.filter(Exists(active)).order_by("name")
    if user.is_active and user.has_perm("orchestrator.start_any_orchestration"):
        return orchestrations
    starters = Orchestration.starter_groups.through.objects.filter(
        orchestration=OuterRef("pk"), group_id__in=sorted(memberships(user).group_ids)
    )
    return orchestrations.filter(Exists(starters))
