"""Bench data for the run dashboard: a work item per synthetic interactive step run.

`manage.py fill_run_history` (runs) inserts runs, stage runs and step runs in bulk SQL, then
asks each step kind for its own rows (StepKind.fill_history); the interactive kind answers
with this. A third of the open items are overdue, so that the dashboard's "overdue" filter
has something to find. PostgreSQL only; never for a production database.
"""

from runs.kinds import FilledRows
from workitems.models import WorkItem

WORK_ITEMS = """
INSERT INTO workitems_workitem (step_run_id, run_id, orchestration_id, step_id,
                                assignee_user_id, assignee_queue_id, assignee_group_id,
                                status, created_at, due_at, draft, current_screen,
                                completed_by_id, completed_at)
SELECT sr.id, sr.run_id, r.orchestration_id, st.id,
       st.assignee_user_id, st.assignee_queue_id, st.assignee_group_id,
       CASE sr.status WHEN 'waiting' THEN 'open' WHEN 'completed' THEN 'completed'
            ELSE 'cancelled' END,
       sr.started_at,
       CASE WHEN sr.status = 'waiting' AND sr.id %% 3 = 0 THEN now() - interval '1 day'
            ELSE sr.started_at + interval '7 days' END,
       '{}'::jsonb, 0, NULL, sr.finished_at
FROM runs_steprun sr
JOIN orchestrator_step st ON st.id = sr.step_id
JOIN runs_run r ON r.id = sr.run_id
WHERE sr.run_id > %(after)s AND st.kind = 'interactive' AND sr.started_at IS NOT NULL;
"""


def fill_work_items(cursor, *, after_run_id: int) -> FilledRows:
    """Insert the work items of the interactive step runs of runs above `after_run_id`."""
    cursor.execute(WORK_ITEMS, {"after": after_run_id})
    return FilledRows(name="work items", count=cursor.rowcount, table=WorkItem._meta.db_table)
