"""runs_take_attempt() takes the statuses it may take an attempt from (the state diagram's
moves to `running`, runs/engine/states.py) and takes a retry only once it is due
(`next_attempt_at`, with the margin the engine gives): retry timing lives in the database.

Its arguments are named; the engine binds them by name (`p_run_id => ...`).
"""

from django.db import migrations

TAKE_ATTEMPT = """
CREATE FUNCTION runs_take_attempt(
    p_run_id bigint,
    p_step_run_id bigint,
    p_attempt integer,
    p_now timestamptz,
    p_due_by timestamptz,
    p_from_statuses text[],
    p_to_status text
)
RETURNS TABLE (run_row runs_run, step_run_row runs_steprun)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE runs_steprun
    SET status = p_to_status, attempts = p_attempt, started_at = p_now
    WHERE id = p_step_run_id AND run_id = p_run_id
        AND status = ANY (p_from_statuses) AND attempts = p_attempt - 1
        AND (next_attempt_at IS NULL OR next_attempt_at <= p_due_by);
    IF NOT FOUND THEN
        RETURN;  -- a duplicate or stale message, or a retry that is not due yet
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
OLD_SIGNATURE = "runs_take_attempt(bigint, bigint, integer, timestamptz, text, text)"
NEW_SIGNATURE = "runs_take_attempt(bigint, bigint, integer, timestamptz, timestamptz, text[], text)"
OLD_TAKE_ATTEMPT = """
CREATE FUNCTION runs_take_attempt(
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
        RETURN;
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


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
        schema_editor.execute(TAKE_ATTEMPT)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {NEW_SIGNATURE}")
        schema_editor.execute(OLD_TAKE_ATTEMPT)


class Migration(migrations.Migration):
    dependencies = [("runs", "0006_take_attempt_function")]

    operations = [migrations.RunPython(forwards, backwards)]
