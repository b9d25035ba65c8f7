"""Keeps `Step.depends_on` frozen with its version: M2M changes do not go through save().

`QuerySet.update()` and `QuerySet.delete()` skip the model methods too; they are left open
on purpose (data migrations and repairs use them) and the admin and services never do.
"""

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from orchestrator.models import OrchestrationVersion, Step


@receiver(m2m_changed, sender=Step.depends_on.through, dispatch_uid="step_depends_on_locked")
def refuse_dependency_change_of_locked_version(sender, instance, action, pk_set, **kwargs):
    """Refuse adding, removing or clearing dependencies when a step involved is not a draft's."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    instance._check_editable()
    if pk_set:
        locked = (
            Step.objects.filter(pk__in=pk_set)
            .exclude(version__status=OrchestrationVersion.Status.DRAFT)
            .select_related("version__orchestration")
            .first()
        )
        if locked is not None:
            locked._check_editable()
