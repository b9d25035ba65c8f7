"""Work items in the browser: inline validation, drafts, a stale group submit, 404 for others."""

import re

import pytest
from playwright.sync_api import expect

from orchestrator.specs import FieldSpec, OrchestrationSpec, ScreenSpec, StageSpec, StepSpec, build
from runs.models import StepRun
from tests.support.browser import DEFAULT_TIMEOUT_MS, login
from tests.workitems.items import launch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hire_item(assignee):
    """Two screens for Ana: who is joining, then the position."""
    hire_form = StepSpec(
        "hire_form",
        "New hire form",
        assignee=assignee,
        screens=[
            ScreenSpec(
                "Who is joining",
                [
                    FieldSpec("full_name", "Full name"),
                    FieldSpec("email", "Email", "email", help_text="Their work address"),
                ],
            ),
            ScreenSpec("The position", [FieldSpec("job_title", "Job title")]),
        ],
    )
    build(OrchestrationSpec("hire", "Hire", stages=[StageSpec("hire", steps=[hire_form])]))
    return launch("hire")


def test_a_validation_error_is_shown_inline_and_the_values_are_kept(
    page, live_server, assignee, hire_item
):
    login(page, live_server, assignee.username)
    page.goto(f"/inbox/{hire_item.pk}/")
    page.evaluate("window.notReloaded = true")  # lost if the page reloads instead of swapping
    page.get_by_label("Full name").fill("Ana Pérez")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Next").click()

    email = page.get_by_label("Email")
    expect(page.locator("#id_email_error")).to_have_text("Enter a valid email address.")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("not-an-email")
    expect(email).to_be_focused()
    expect(page.get_by_label("Full name")).to_have_value("Ana Pérez")
    assert page.evaluate("window.notReloaded === true"), "the page reloaded"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/phone-validation.png", full_page=True)


def test_a_draft_is_kept_across_a_reload(page, live_server, assignee, hire_item):
    login(page, live_server, assignee.username)
    page.goto(f"/inbox/{hire_item.pk}/")
    page.get_by_label("Full name").fill("Ana Pérez")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Job title").fill("Engineer")
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Full name")).to_have_value("Ana Pérez")

    page.reload()
    expect(page.get_by_label("Full name")).to_have_value("Ana Pérez")
    expect(page.get_by_label("Email")).to_have_value("ana@example.com")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Job title")).to_have_value("Engineer")
    page.get_by_role("button", name="Complete").click()

    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.get_by_role("status")).to_contain_text("'New hire form' is complete.")
    assert StepRun.objects.get(pk=hire_item.step_run_id).outputs == {
        "full_name": "Ana Pérez",
        "email": "ana@example.com",
        "job_title": "Engineer",
    }


def test_a_second_group_members_stale_submit_is_refused_clearly(
    page, browser, live_server, make_user, group, group_member
):
    second = make_user("gabe", first_name="Gabe")
    second.groups.add(group)
    assign_desk = StepSpec(
        "assign_desk",
        assignee=group,
        fields=[FieldSpec("building", "Building"), FieldSpec("desk", "Desk")],
    )
    build(OrchestrationSpec("desk", stages=[StageSpec("assign", steps=[assign_desk])]))
    item = launch("desk")
    other = browser.new_context(base_url=live_server.url)
    other.set_default_timeout(DEFAULT_TIMEOUT_MS)
    gabe = other.new_page()
    login(page, live_server, group_member.username)
    login(gabe, live_server, second.username)
    page.goto(f"/inbox/{item.pk}/")
    gabe.goto(f"/inbox/{item.pk}/")  # both have the form open

    page.get_by_label("Building").fill("HQ")
    page.get_by_label("Desk").fill("4.12")
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("status")).to_contain_text("'Assign desk' is complete.")

    gabe.get_by_label("Building").fill("Annex")
    gabe.get_by_label("Desk").fill("7.01")
    gabe.get_by_role("button", name="Complete").click()
    expect(gabe.get_by_role("alert")).to_contain_text(re.compile(r"Already completed by Gus at"))
    expect(gabe.get_by_label("Desk")).to_have_value("7.01")  # nothing typed is lost
    assert StepRun.objects.get(pk=item.step_run_id).outputs == {"building": "HQ", "desk": "4.12"}
    gabe.goto("/inbox/")
    expect(gabe.get_by_text("There is nothing waiting for you right now.")).to_be_visible()
    other.close()


def test_opening_another_users_item_is_not_found(page, live_server, outsider, hire_item):
    login(page, live_server, outsider.username)

    response = page.goto(f"/inbox/{hire_item.pk}/")

    assert response.status == 404
    expect(page.get_by_text("Ana Pérez")).to_have_count(0)
