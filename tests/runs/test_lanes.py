"""Apps keep to their lanes: imports point `workitems -> runs -> orchestrator`, so `runs`
(its code and its templates) never names work items. What it needs from them it asks of the
step kinds (runs/kinds.py); the interactive kind, in `workitems`, answers."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Identifiers, table names, app labels, permissions and URL names of the workitems app. Prose
# ("its work items are cancelled") may still say what happens.
NAMES_WORK_ITEMS = re.compile(
    r"WorkItem|workitems_workitem|work_items?|get_model\(\s*[\"']workitems"
    r"|\bworkitems\.|[\"']workitems[\"':]|perms\.workitems|from workitems|import workitems"
)
# The work items' statuses: runs has no "open" status of its own.
OPEN_STATUS = re.compile(r"[\"']open[\"']")


def _files():
    yield from (ROOT / "runs").rglob("*.py")
    yield from (ROOT / "templates" / "runs").rglob("*.html")


def test_runs_does_not_name_work_items():
    offenders = []
    for path in _files():
        if "migrations" in path.parts:
            continue  # history: the migrations of long ago may say what they said
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if NAMES_WORK_ITEMS.search(line) or OPEN_STATUS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "runs names work items:\n" + "\n".join(offenders)


def test_the_check_would_catch_what_runs_used_to_do():
    for line in [
        'return apps.get_model("workitems", "WorkItem")',
        "INSERT INTO workitems_workitem (step_run_id, run_id)",
        '.filter(run=run, status="open")',
        "{% if perms.workitems.reassign_any_workitem %}",
        "{% url 'workitems:reassign_from_run' run.pk item.pk %}",
        "from workitems.forms import ReassignForm",
        "{% for item in detail.open_work_items %}",
    ]:
        assert NAMES_WORK_ITEMS.search(line) or OPEN_STATUS.search(line), line
