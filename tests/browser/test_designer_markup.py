"""A designer's script in a step's instructions does not run in the browser of whoever opens
the work item (it used to, when the instructions held a `{{ }}`): it reads as text."""

import pytest
from playwright.sync_api import expect

from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from tests.support.browser import login
from tests.workitems.items import launch

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = "<script>window.ranScript = true</script>"
IMG = '<img src=x onerror="window.ranImg = true">'


def test_script_in_instructions_and_run_data_does_not_run_on_the_item_page(
    page, live_server, assignee
):
    sign = StepSpec(
        "sign",
        "Sign",
        assignee=assignee,
        instructions=f"{SCRIPT} {IMG}\nFor {{{{ input.employee }}}}",
        fields=[FieldSpec("ok", "OK", help_text=IMG)],
    )
    build(OrchestrationSpec("nda", "NDA", stages=[StageSpec("sign", steps=[sign])]))
    item = launch("nda", inputs={"employee": SCRIPT})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    login(page, live_server, assignee.username)
    page.goto(f"{live_server.url}/inbox/{item.pk}/")
    page.wait_for_load_state("load")

    assert page.evaluate("[window.ranScript, window.ranImg]") == [None, None]
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []
    instructions = page.get_by_role("region", name="Instructions")
    expect(instructions).to_contain_text(f"{SCRIPT} {IMG}")
    expect(instructions).to_contain_text(f"For {SCRIPT}")
    expect(page.get_by_text(IMG, exact=True)).to_be_visible()  # the field's help text
