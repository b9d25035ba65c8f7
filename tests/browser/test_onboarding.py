"""The whole employee onboarding done in the browser by five people, with a real Celery
worker running payroll and the welcome email in the background."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from demo.models import Employee
from runs.models import Run
from tests.support.browser import DEFAULT_TIMEOUT_MS, login
from tests.support.polling import wait_for
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def open_page(browser: Browser, live_server, username: str, viewport=None) -> Page:
    """A page of its own (its own cookies) for one person, logged in."""
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900}
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    login(page, live_server, username)
    return page


def test_employee_onboarding_through_the_browser(page, browser, live_server, celery_worker_factory):
    worker = celery_worker_factory(payroll_api_url=f"{live_server.url}/demo/payroll/employees/")
    call_command("seed_demo", stdout=io.StringIO())
    pages: list[Page] = []

    # HR starts the onboarding from /start/ and lands straight on the new hire form.
    login(page, live_server, "hr")
    page.goto("/start/")
    page.set_viewport_size(PHONE)
    page.screenshot(path="/tmp/phone-start.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Start Employee onboarding").click()
    expect(page.get_by_role("heading", name="New hire form")).to_be_visible()
    page.get_by_label("Full name").fill("Ana Pérez")
    page.get_by_label("Email").fill("ana.perez@example.com")
    page.get_by_label("Start date").fill("2025-03-03")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="The position")).to_be_visible()
    page.get_by_label("Department").select_option("Engineering")
    page.get_by_label("Job title").fill("Engineer")
    page.get_by_label("Manager").select_option(label="Manager (manager)")
    page.get_by_label("Annual salary").fill("85000")
    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.get_by_role("status")).to_contain_text(
        "Thanks — 'New hire form' is complete. The run now waits for: "
        "Provision laptop and accounts (IT), Assign desk (Facilities) and "
        "Set up payroll (automatic)."
    )
    run = Run.objects.get()
    assert Employee.objects.get().full_name == "Ana Pérez"

    # IT, on a phone: claims the item in the queue, then provisions the laptop.
    it = open_page(browser, live_server, "it", viewport=PHONE)
    pages.append(it)
    it.goto("/inbox/")
    row = it.locator(".item", has_text="Provision laptop and accounts")
    row.get_by_role("button", name="Claim").click()
    expect(row).to_contain_text("You claimed 'Provision laptop and accounts'.")
    it.screenshot(path="/tmp/phone-inbox.png", full_page=True)
    it.get_by_role("link", name="Provision laptop and accounts").click()
    expect(it.get_by_text("Ana Pérez starts as Engineer in Engineering")).to_be_visible()
    it.get_by_label("Laptop model").select_option("ThinkPad X1 Carbon")
    it.get_by_role("radio", name="Yes").check()
    it.get_by_label("Asset tag").fill("IT-0042")
    it.screenshot(path="/tmp/phone-work-item.png", full_page=True)
    it.get_by_role("button", name="Complete").click()
    expect(it.get_by_role("status")).to_contain_text(
        "Thanks — 'Provision laptop and accounts' is complete."
    )

    # Facilities (a group: any member may complete it) assigns the desk.
    facilities = open_page(browser, live_server, "facilities")
    pages.append(facilities)
    facilities.goto("/inbox/")
    facilities.get_by_role("link", name="Assign desk").click()
    facilities.get_by_label("Building").fill("HQ")
    facilities.get_by_label("Desk number").fill("4.12")
    facilities.get_by_role("button", name="Complete").click()
    expect(facilities.get_by_role("status")).to_contain_text("'Assign desk' is complete.")

    # Payroll runs on the worker, against the demo's payroll API; then the manager's turn.
    manager = get_user_model().objects.get(username="manager")
    wait_for(
        lambda: WorkItem.objects.filter(assignee_user=manager, status="open").exists(),
        message="the manager's approval (payroll runs in the background first)",
    )
    boss = open_page(browser, live_server, "manager")
    pages.append(boss)
    boss.goto("/inbox/")
    expect(boss.locator(".badge")).to_have_text("1")
    boss.get_by_role("link", name="Manager approval").click()
    expect(boss.get_by_text("Please approve Ana Pérez (Engineer, Engineering)")).to_be_visible()
    earlier = boss.get_by_role("region", name="Earlier answers")
    for text in [
        "New hire form",
        "ana.perez@example.com",
        "85,000.00",
        "ThinkPad X1 Carbon",
        "IT-0042",
        "4.12",
    ]:
        expect(earlier).to_contain_text(text)
    boss.get_by_label("Comment").fill("Welcome, Ana!")
    boss.screenshot(path="/tmp/manager-approval.png", full_page=True)
    boss.get_by_role("button", name="Approve").click()
    expect(boss).to_have_url(re.compile(r"/inbox/$"))
    expect(boss.get_by_role("status")).to_contain_text("Thanks — 'Manager approval' is complete.")

    # The welcome email goes out from the worker and the run completes.
    wait_for(
        lambda: Run.objects.filter(pk=run.pk, status=Run.Status.COMPLETED).exists(),
        message="the run to complete",
    )
    [welcome] = wait_for(
        lambda: [m for m in worker.outbox() if m["To"] == "ana.perez@example.com"],
        message="the welcome email",
    )
    assert welcome["Subject"] == "Welcome to the team, Ana Pérez!"
    assert "Your desk is 4.12 in HQ" in welcome.get_content()
    assert Employee.objects.get().payroll_id.startswith("PAY-")
    for other in pages:
        other.context.close()
