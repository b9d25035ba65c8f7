"""EXPLAIN ANALYZE every query the run dashboard makes, for a set of typical filters.

    DATABASE_URL=postgres://... python manage.py fill_run_history --runs 1000000
    DATABASE_URL=postgres://... python manage.py explain_dashboard [--only list,counts]

Prints, per scenario and query, the execution time and the plan (PostgreSQL only).
"""

import datetime
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orchestrator.models import Orchestration
from runs import selectors
from runs.models import Run
from runs.selectors import RunFilters


def _scenarios():
    orchestration = Orchestration.objects.order_by("pk").first()
    today = timezone.localdate()
    last_week = today - datetime.timedelta(days=7)
    oldest_id = Run.objects.order_by("pk").values_list("pk", flat=True).first()
    return {
        "list": lambda: selectors.run_page(RunFilters()),
        "list page 40": lambda: selectors.run_page(RunFilters(), 40),
        "counts": lambda: selectors.status_counts(RunFilters()),
        "list orchestration": lambda: selectors.run_page(RunFilters(orchestration=orchestration)),
        "counts orchestration": lambda: selectors.status_counts(
            RunFilters(orchestration=orchestration)
        ),
        "list status failed": lambda: selectors.run_page(RunFilters(status="failed")),
        "list started between": lambda: selectors.run_page(
            RunFilters(started_from=last_week - datetime.timedelta(days=180), started_to=last_week)
        ),
        "list overdue": lambda: selectors.run_page(RunFilters(overdue=True)),
        "counts overdue": lambda: selectors.status_counts(RunFilters(overdue=True)),
        "list failed step": lambda: selectors.run_page(RunFilters(failed=True)),
        "counts failed step": lambda: selectors.status_counts(RunFilters(failed=True)),
        "search title": lambda: selectors.run_page(RunFilters(q="record 4242 ")),
        "counts search title": lambda: selectors.status_counts(RunFilters(q="record 4242 ")),
        "search run id": lambda: selectors.run_page(RunFilters(q=str(oldest_id or 1))),
        "charts": lambda: selectors.charts(RunFilters(), today),
        "charts orchestration": lambda: selectors.charts(
            RunFilters(orchestration=orchestration), today
        ),
        "usage 12 months": lambda: selectors.usage_by_month(since=selectors.months_back(today, 12)),
        "usage csv (all time)": lambda: selectors.usage_by_month(),
    }


class Command(BaseCommand):
    help = "EXPLAIN ANALYZE the run dashboard's queries (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--only", default="", help="Comma-separated scenario names.")
        parser.add_argument("--plans", action="store_true", help="Print the whole plans.")

    def handle(self, *args, only: str, plans: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("explain_dashboard needs PostgreSQL (set DATABASE_URL).")
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        for name, scenario in _scenarios().items():
            if wanted and name not in wanted:
                continue
            with CaptureQueriesContext(connection) as captured:
                scenario()
            for query in captured.captured_queries:
                sql = query["sql"]
                if sql.startswith("DECLARE"):
                    sql = re.sub(r"^DECLARE \S+ NO SCROLL CURSOR (WITH HOLD )?FOR ", "", sql)
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    lines = [row[0] for row in cursor.fetchall()]
                total = next((line for line in lines if line.startswith("Execution Time")), "")
                self.stdout.write(f"== {name}: {total}")
                if plans:
                    self.stdout.write(sql[:600] + ("…" if len(sql) > 600 else ""))
                    self.stdout.write("\n".join(lines) + "\n")
