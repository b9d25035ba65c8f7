"""The person who started a run is told when it ends, and the run page lists the run's
notifications: the outbox's run listener (runs/listeners.py)."""

from django.urls import reverse

from notifications.messages import build_email, site_link
from notifications.models import Notification
from notifications.outbox import Email, deliver_after_commit, notification, register_renderer
from notifications.outbox import what as what_of
from runs.answers import person_label
from runs.kinds import RunPageSection
from runs.listeners import RunListener
from runs.models import Run, StepRun

ENDED = {"run.completed", "run.failed", "run.cancelled"}
MAX_ROWS = 200


class OutboxListener(RunListener):
    def on_events(self, state, events) -> list[Notification]:
        """A row for the run's starter when one of these events ends the run."""
        run = state.run
        ended = [event for event in events if event.kind in ENDED]
        if not ended or not run.started_by_id:
            return []
        event = ended[-1]
        data = {"status": run.status, "outcome": run.outcome}
        if event.kind == "run.cancelled":
            data["reason"] = event.data.get("reason", "")
            if event.actor is not None:
                data["by"] = person_label(event.actor)
        elif event.kind == "run.failed":
            data["error"] = event.data.get("error", "")
        else:
            data.update(_decision(state))
        row = notification(
            key=f"run.ended:{run.pk}:{state.now.isoformat()}",
            kind="run.ended",
            now=state.now,
            run=run,
            recipient_id=run.started_by_id,
            data=data,
        )
        return deliver_after_commit([row])

    def run_page_section(self, run: Run) -> RunPageSection | None:
        rows = list(
            Notification.objects.filter(run=run)
            .select_related("recipient", "step_run__step")
            .order_by("-created_at", "-id")[: MAX_ROWS + 1]
        )
        if not rows:
            return None
        for row in rows:
            step = row.step_run.step.label if row.step_run_id else ""
            row.what = f"{what_of(row.kind)}: {step}" if step else what_of(row.kind)
        return RunPageSection(
            template="notifications/run_page_section.html",
            context={"notifications": rows[:MAX_ROWS], "truncated": len(rows) > MAX_ROWS},
        )


def _decision(state) -> dict[str, str]:
    """The last decision a person made in the run (the step whose form has a decision field),
    with its comment, if any."""
    from runs.answers import fields_of

    latest = None
    for step_run in state.step_runs:
        if step_run.status != StepRun.Status.COMPLETED or not step_run.completed_by_id:
            continue
        step = state.plan.steps[step_run.step_id]
        decisions = [f for f in fields_of(state.plan, step) if f.type == "decision"]
        if decisions and (latest is None or step_run.finished_at >= latest[0].finished_at):
            latest = (step_run, step, decisions[0])
    if latest is None:
        return {}
    step_run, step, field = latest
    outputs = step_run.outputs or {}
    labels = dict(field.choice_pairs)
    value = str(outputs.get(field.key, ""))
    found = {"decided_in": step.label, "decision": str(labels.get(value, value))}
    comment = outputs.get("comment")
    if isinstance(comment, str) and comment.strip():
        found["comment"] = comment.strip()
    return found


def render_run_ended(row: Notification) -> Email:
    run = Run.objects.select_related("orchestration").get(pk=row.run_id)
    data = row.data
    name = run.orchestration.name
    about = f"{name}: {run.title}" if run.title else f"{name} (run #{run.pk})"
    status = data.get("status")
    if status == Run.Status.COMPLETED:
        outcome = data.get("outcome") or "completed"
        subject = f"Completed: {about}" if outcome == "completed" else f"{outcome}: {about}"
        subject = subject[0].upper() + subject[1:]
        paragraphs = [f"The run you started, {about}, has ended: {outcome}."]
        if data.get("decision"):
            decided = f'The decision in "{data["decided_in"]}" was: {data["decision"]}.'
            paragraphs.append(decided)
        if data.get("comment"):
            paragraphs.append(f"The comment: {data['comment']}")
    elif status == Run.Status.CANCELLED:
        subject = f"Cancelled: {about}"
        by = f" by {data['by']}" if data.get("by") else ""
        paragraphs = [f"The run you started, {about}, was cancelled{by}."]
        if data.get("reason"):
            paragraphs.append(f"The reason given: {data['reason']}")
    else:
        subject = f"Failed: {about}"
        paragraphs = [f"The run you started, {about}, has failed."]
        if data.get("error"):
            paragraphs.append(f"The error: {data['error']}")
        paragraphs.append("An operator can retry the failed step from the run's page.")
    return build_email(
        subject=subject,
        paragraphs=paragraphs,
        link=site_link(reverse("runs:progress", args=[run.pk])),
        link_label="See the whole process",
    )


def register() -> None:
    register_renderer("run.ended", render_run_ended, what="Run ended")
