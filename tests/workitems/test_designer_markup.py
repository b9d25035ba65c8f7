"""A designer's markup and the run data are shown as text, escaped exactly once, on every page
a person sees: the work item, the run page and the progress page.

The bug this guards against: instructions holding a `{{ }}` were rendered by Django's
template engine, whose output is marked safe, so a staff designer's `<script>` in them ran in
the session of whoever opened the item (a superuser among them).
"""

import pytest
from django.urls import reverse
from django.utils.html import escape

from orchestrator.specs import FieldSpec, OrchestrationSpec, ScreenSpec, StageSpec, StepSpec, build
from runs import engine
from tests.runs.engine_helpers import complete
from tests.workitems.items import open_item

pytestmark = pytest.mark.django_db

IMG = '<img src=x onerror="alert(document.cookie)">'


def script(where: str) -> str:
    return f"<script>alert('{where}')</script>"


def assert_escaped_once(html: str, text: str) -> None:
    assert escape(text) in html, f"{text!r} is not on the page, escaped"
    assert escape(escape(text)) not in html, f"{text!r} is escaped twice"


def assert_no_markup_from_designers(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html


def launch_trap(assignee, operator, instructions: str):
    """A run whose designer texts are all scripts and whose input is an <img> trap; Ana's
    review waits on a two-screen flow."""
    review = StepSpec(
        "review",
        script("step label"),
        assignee=assignee,
        instructions=instructions,
        screens=[
            ScreenSpec(
                script("screen title"),
                [FieldSpec("title", script("field label"), help_text=script("field help"))],
                help_text=script("screen help"),
            ),
            ScreenSpec("Second", [FieldSpec("note", "Note", required=False)]),
        ],
    )
    after = StepSpec("after", "After", assignee=assignee)
    build(
        OrchestrationSpec(
            "trap",
            script("orchestration name"),
            stages=[
                StageSpec("review", script("stage label"), steps=[review]),
                StageSpec("after", steps=[after]),
            ],
        )
    )
    return engine.launch("trap", inputs={"employee": IMG}, started_by=operator)


@pytest.fixture
def run(assignee, operator):
    instructions = f"{script('instructions')}\nCheck {{{{ input.employee }}}} {IMG}"
    return launch_trap(assignee, operator, instructions)


def test_the_item_page_shows_every_designer_text_and_the_run_data_escaped_once(
    login, assignee, run
):
    html = login(assignee).get(f"/inbox/{open_item(run.pk).pk}/").content.decode()

    for where in (
        "step label",
        "instructions",
        "screen title",
        "screen help",
        "field label",
        "field help",
        "orchestration name",
    ):
        assert_escaped_once(html, script(where))
    assert f"Check {escape(IMG)} {escape(IMG)}" in html  # the run data and the literal alike
    assert_no_markup_from_designers(html)


def test_instructions_without_a_template_are_escaped_once_too(login, assignee, operator):
    run = launch_trap(assignee, operator, f"{script('plain')}\n{IMG}")

    html = login(assignee).get(f"/inbox/{open_item(run.pk).pk}/").content.decode()

    assert_escaped_once(html, script("plain"))
    assert_escaped_once(html, IMG)
    assert_no_markup_from_designers(html)


def test_the_run_page_shows_labels_and_answers_escaped_once(client, operator, assignee, run):
    complete(run, "review", assignee, title=IMG, note=script("answer"))
    client.force_login(operator)

    html = client.get(reverse("runs:detail", args=[run.pk])).content.decode()

    for text in (script("step label"), script("stage label"), script("field label"), IMG):
        assert_escaped_once(html, text)
    assert_escaped_once(html, script("answer"))
    assert_no_markup_from_designers(html)


def test_the_progress_page_shows_labels_escaped_once(client, assignee, run):
    client.force_login(assignee)

    html = client.get(reverse("runs:progress", args=[run.pk])).content.decode()

    for where in ("step label", "stage label", "orchestration name"):
        assert_escaped_once(html, script(where))
    assert_no_markup_from_designers(html)


def test_the_inbox_shows_labels_escaped_once(login, assignee, run):
    html = login(assignee).get(reverse("workitems:inbox")).content.decode()

    for where in ("step label", "orchestration name"):
        assert_escaped_once(html, script(where))
    assert_no_markup_from_designers(html)


def test_the_next_screen_fragment_shows_designer_texts_escaped_once(login, assignee, run):
    """The HTMX fragment of a screen is escaped like the page it replaces."""
    item = open_item(run.pk)

    response = login(assignee).post(
        reverse("workitems:submit", args=[item.pk]),
        {"_screen": "0", "_nav": "next", "title": IMG},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200 and 'id="screen"' in html
    assert_escaped_once(html, script("screen title"))  # in the list of screens
    assert_no_markup_from_designers(html)
