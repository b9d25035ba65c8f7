"""runs_lock_run(): take a run's row lock and read its step runs in one statement.

The engine starts every transition by locking the run, then reading its stage runs and step
runs. Under READ COMMITTED those are two statements: one SELECT cannot lock the run and
read the step runs as they are after the lock, because its snapshot is taken before it
waits. A PL/pgSQL function can: each statement in a VOLATILE function takes a new snapshot,
so the read after the lock sees what the previous holder committed. One round trip instead
of two for every transition. PostgreSQL only; on SQLite the engine keeps its two statements.
"""

from django.db import migrations

LOCK_RUN = """
CREATE OR REPLACE FUNCTION runs_lock_run(p_run_id bigint, p_skip_locked boolean)
RETURNS TABLE (run_row runs_run, stage_run_row runs_stagerun, step_run_row runs_steprun)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_skip_locked THEN
        PERFORM 1 FROM runs_run WHERE id = p_run_id FOR UPDATE SKIP LOCKED;
    ELSE
        PERFORM 1 FROM runs_run WHERE id = p_run_id FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        RETURN;  -- no such run, or (skip_locked) another transaction holds it
    END IF;
    -- A new snapshot: this reads what the previous holder of the lock committed.
    RETURN QUERY
        SELECT r, g, s
        FROM runs_run r
        LEFT JOIN runs_steprun s ON s.run_id = r.id
        LEFT JOIN runs_stagerun g ON g.id = s.stage_run_id AND g.run_id = r.id
        WHERE r.id = p_run_id
        ORDER BY s.id;
END
$$;
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LOCK_RUN)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS runs_lock_run(bigint, boolean)")


class Migration(migrations.Migration):
    dependencies = [("runs", "0003_dashboard_query_indexes")]

    operations = [migrations.RunPython(create_function, drop_function)]
