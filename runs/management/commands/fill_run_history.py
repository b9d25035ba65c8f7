"""Fill PostgreSQL with a large synthetic run history, to check the dashboard's query plans.

    DATABASE_URL=postgres://... python manage.py seed_demo
    DATABASE_URL=postgres://... python manage.py fill_run_history --runs 1000000 --explain

Rows are made by `generate_series` in a few INSERT ... SELECT statements (no Python loop):
runs of the active versions spread over two years (90% completed, 4% running, 3% failed,
3% cancelled; running ones in the last 30 days), a stage run per stage with plausible times,
and a step run per step. Then each step kind adds its own rows for its step runs
(StepKind.fill_history: the interactive kind a work item per started step run, a third of
the open ones overdue). Not for SQLite, and never for a production database: the rows are
fake.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from orchestrator.models import OrchestrationVersion
from runs.kinds import registered_kinds

STRUCTURE = """
CREATE TEMP TABLE bench_version ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY v.id) - 1 AS n, v.id AS version_id, v.orchestration_id,
       (SELECT count(*) FROM orchestrator_stage s WHERE s.version_id = v.id) AS stages
FROM orchestrator_orchestrationversion v
WHERE v.status = 'active'
  AND EXISTS (SELECT 1 FROM orchestrator_stage s WHERE s.version_id = v.id);

CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
SELECT s.version_id, s.id AS stage_id,
       row_number() OVER (PARTITION BY s.version_id ORDER BY s.position, s.id) - 1 AS idx
FROM orchestrator_stage s JOIN bench_version v ON v.version_id = s.version_id;
"""

RUNS = """
INSERT INTO runs_run (version_id, orchestration_id, status, outcome, context, record_id, title,
                      started_at, finished_at)
SELECT v.version_id, v.orchestration_id, src.status,
       CASE WHEN src.status = 'completed' THEN 'completed' ELSE '' END,
       '{}'::jsonb, '', 'Bench record ' || src.g || ' ' || md5(src.g::text),
       src.started,
       CASE WHEN src.status = 'running' THEN NULL
            ELSE src.started + interval '1 hour' + src.r2 * src.r2 * interval '20 days' END
FROM (
    SELECT g, r2, status,
           CASE WHEN status = 'running' THEN now() - random() * interval '30 days'
                ELSE now() - interval '21 days' - random() * interval '710 days' END AS started
    FROM (
        SELECT g, random() AS r2,
               CASE WHEN r < 0.04 THEN 'running' WHEN r < 0.07 THEN 'failed'
                    WHEN r < 0.10 THEN 'cancelled' ELSE 'completed' END AS status
        FROM (SELECT g, random() AS r FROM generate_series(1, %(count)s) AS g) AS numbers
    ) AS statuses
) AS src
JOIN bench_version v ON v.n = src.g %% (SELECT count(*) FROM bench_version);
"""

# The stage reached: every stage for a completed run, else the run's id modulo the number of
# stages. Stage times split the run's time evenly.
STAGE_RUNS = """
INSERT INTO runs_stagerun (run_id, stage_id, status, iteration, started_at, finished_at)
SELECT r.id, s.stage_id,
       CASE WHEN r.status = 'completed' OR s.idx < r.id %% v.stages THEN 'completed'
            WHEN s.idx > r.id %% v.stages THEN
                 CASE WHEN r.status = 'cancelled' THEN 'cancelled' ELSE 'pending' END
            WHEN r.status = 'running' THEN 'active'
            ELSE r.status END,
       1,
       CASE WHEN r.status = 'completed' OR s.idx <= r.id %% v.stages THEN
            r.started_at + (coalesce(r.finished_at, now()) - r.started_at)
                * s.idx / (CASE WHEN r.status = 'completed' THEN v.stages
                                ELSE r.id %% v.stages + 1 END)
       END,
       CASE WHEN r.status = 'completed' OR s.idx < r.id %% v.stages OR
                 (s.idx = r.id %% v.stages AND r.status <> 'running') THEN
            r.started_at + (coalesce(r.finished_at, now()) - r.started_at)
                * (s.idx + 1) / (CASE WHEN r.status = 'completed' THEN v.stages
                                      ELSE r.id %% v.stages + 1 END)
       END
FROM runs_run r
JOIN bench_version v ON v.version_id = r.version_id
JOIN bench_stage s ON s.version_id = r.version_id
WHERE r.id > %(after)s;
"""

STEP_RUNS = """
INSERT INTO runs_steprun (run_id, stage_run_id, step_id, status, attempts, outputs, error,
                          traceback, created_at, started_at, finished_at)
SELECT sr.run_id, sr.id, st.id,
       CASE sr.status
            WHEN 'completed' THEN 'completed'
            WHEN 'active' THEN CASE WHEN st.kind = 'interactive' THEN 'waiting' ELSE 'queued' END
            WHEN 'failed' THEN CASE WHEN st.kind = 'background' THEN 'failed' ELSE 'completed' END
            ELSE sr.status END,
       CASE WHEN st.kind = 'background' AND sr.status IN ('completed', 'failed') THEN 1 ELSE 0 END,
       '{}'::jsonb,
       CASE WHEN sr.status = 'failed' AND st.kind = 'background'
            THEN 'The payroll API answered 503.' ELSE '' END,
       '', coalesce(sr.started_at, now()), sr.started_at,
       CASE WHEN sr.finished_at IS NOT NULL THEN
            sr.started_at + (sr.finished_at - sr.started_at) * (0.3 + 0.7 * random()) END
FROM runs_stagerun sr
JOIN orchestrator_step st ON st.stage_id = sr.stage_id
WHERE sr.run_id > %(after)s;
"""


class Command(BaseCommand):
    help = "Bulk-insert a synthetic run history into PostgreSQL (for EXPLAIN checks)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=1_000_000)
        parser.add_argument(
            "--no-kind-rows",
            action="store_true",
            help="Do not ask the step kinds for their own rows (the interactive kind's).",
        )

    def handle(self, *args, runs: int, no_kind_rows: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("fill_run_history needs PostgreSQL (set DATABASE_URL).")
        if not OrchestrationVersion.objects.filter(status="active").exists():
            raise CommandError("There is no active orchestration version: run seed_demo first.")
        with transaction.atomic(), connection.cursor() as cursor:
            # The rows are consistent by construction: skip the deferred foreign key checks,
            # which would otherwise take minutes at COMMIT for millions of rows.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("SELECT coalesce(max(id), 0) FROM runs_run")
            after = cursor.fetchone()[0]
            cursor.execute(STRUCTURE)
            tables = ["runs_run", "runs_stagerun", "runs_steprun"]
            steps = [
                ("runs", RUNS),
                ("stage runs", STAGE_RUNS),
                ("step runs", STEP_RUNS),
            ]
            for name, sql in steps:
                began = time.monotonic()
                cursor.execute(sql, {"count": runs, "after": after})
                self._report(name, cursor.rowcount, began)
            if not no_kind_rows:
                for kind in registered_kinds():
                    began = time.monotonic()
                    for filled in kind.fill_history(cursor, after_run_id=after):
                        self._report(filled.name, filled.count, began)
                        tables.append(filled.table)
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ANALYZE {table}")
        self.stdout.write("Analyzed. Now EXPLAIN ANALYZE the dashboard's queries.")

    def _report(self, name: str, count: int, began: float) -> None:
        self.stdout.write(f"{count:>10,} {name} in {time.monotonic() - began:.1f}s")
