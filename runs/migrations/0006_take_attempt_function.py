"""runs_take_attempt(): move a background step's attempt from queued to running and read the
run with its step runs (what the action's parameters are resolved from), in one statement.

The conditional UPDATE is what makes a duplicate or stale message a no-op: no row matches,
and the function returns nothing. Like runs_lock_run() it is PostgreSQL only; elsewhere the
engine sends the UPDATE and the SELECT one after the other.
"""

from django.db import migrations

TAKE_ATTEMPT = """
CREATE OR REPLACE FUNCTION runs_take_attempt(
    p_run_id bigint,
    p_step_run_id bigint,
    p_attempt integer,
    p_started_at timestamptz,
    p_queued text,
    p_running text
)
RETURNS TABLE (run_row runs_run, step_run_row runs_steprun)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE runs_steprun
    SET status = p_running, attempts = p_attempt, started_at = p_started_at
    WHERE id = p_step_run_id AND run_id = p_run_id
        AND status = p_queued AND attempts = p_attempt - 1;
    IF NOT FOUND THEN
        RETURN;  -- a duplicate or stale message
    END IF;
    RETURN QUERY
        SELECT r, s
        FROM runs_run r
        JOIN runs_steprun s ON s.run_id = r.id
        WHERE r.id = p_run_id
        ORDER BY s.id;
END
$$;
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TAKE_ATTEMPT)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS "
            "runs_take_attempt(bigint, bigint, integer, timestamptz, text, text)"
        )


class Migration(migrations.Migration):
    dependencies = [("runs", "0005_drop_indexes_other_indexes_lead_with")]

    operations = [migrations.RunPython(create_function, drop_function)]
