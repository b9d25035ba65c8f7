"""EXPLAIN the inbox with 100,000 open work items: bulk-creates them once, then prints the
plan of every query the inbox page runs for a user who sees a few hundred of them.

    createdb -h 127.0.0.1 -U postgres baton_d
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/baton_d DEBUG=true
    .venv/bin/python manage.py migrate
    .venv/bin/python scripts/inbox_explain.py

Items are spread over 500 users, 100 queues and 100 groups; the user `inbox-load-0` is in one
queue and one group. PostgreSQL only (the partial indexes are what is being checked).
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from orchestrator.models import Orchestration, Queue, Step  # noqa: E402
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build  # noqa: E402
from tests.workitems.bulk import bulk_open_items  # noqa: E402
from workitems.models import WorkItem  # noqa: E402

COUNT = int(os.environ.get("INBOX_ITEMS", "100000"))
# Completed items of the same people: the table of a system in use, where the partial
# indexes on open items are much smaller than the plain foreign key indexes.
CLOSED = int(os.environ.get("INBOX_CLOSED_ITEMS", "100000"))
KEY = "inbox-load"


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at PostgreSQL.")
    users, queues, groups = _people()
    if not Orchestration.objects.filter(key=KEY).exists():
        work = StepSpec("work", assignee=users[0])
        build(OrchestrationSpec(KEY, "Inbox load", stages=[StageSpec("work", steps=[work])]))
    step = Step.objects.get(version__orchestration__key=KEY, key="work")
    assignees = []
    for i in range(500):
        assignees += [
            {"assignee_user_id": users[i].pk},
            {"assignee_queue_id": queues[i % 100].pk},
            {"assignee_group_id": groups[i % 100].pk},
        ]
    for status, wanted in [(WorkItem.Status.OPEN, COUNT), (WorkItem.Status.COMPLETED, CLOSED)]:
        missing = wanted - WorkItem.objects.filter(step=step, status=status).count()
        if missing > 0:
            started = time.monotonic()
            bulk_open_items(missing, step=step, assignees=assignees, status=status)
            print(f"created {missing} {status} work items in {time.monotonic() - started:.0f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for status in (WorkItem.Status.OPEN, WorkItem.Status.COMPLETED):
        total = WorkItem.objects.filter(status=status).count()
        print(f"{status} work items in the database: {total}")

    setup_test_environment()  # so that the response carries its template context
    client = Client()
    client.force_login(users[0])
    for url in ["/inbox/", "/inbox/?show=queues&sort=oldest&page=2"]:
        with CaptureQueriesContext(connection) as queries:
            started = time.monotonic()
            response = client.get(url)
            elapsed = (time.monotonic() - started) * 1000
        assert response.status_code == 200, response.status_code
        seen = response.context["page"].paginator.count
        print(f"\n=== GET {url}: {len(queries)} queries, {elapsed:.0f} ms, {seen} items match")
        for query in queries.captured_queries:
            sql = query["sql"]
            if "workitems_workitem" not in sql:
                continue
            print(f"\n--- {sql}\n")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
                for (line,) in cursor.fetchall():
                    print(line)


def _people():
    User = get_user_model()
    users = []
    for i in range(500):
        user, _ = User.objects.get_or_create(username=f"inbox-load-{i}")
        users.append(user)
    queues = [
        Queue.objects.get_or_create(key=f"load-{i}", defaults={"name": f"Load {i}"})[0]
        for i in range(100)
    ]
    groups = [Group.objects.get_or_create(name=f"Load {i}")[0] for i in range(100)]
    queues[0].members.add(users[0])
    users[0].groups.add(groups[0])
    return users, queues, groups


if __name__ == "__main__":
    main()
