"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright never downloads a browser here; it drives the one Debian installs (`make test`
installs it when it is missing).
"""

from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's own check runs it: no background connections (the network is closed),
# no sandbox (tests run as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 10_000


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def login(page: Page, live_server, username: str, password: str = "demo") -> None:
    """Log in through the login page, as a person would, and wait for the page after it."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/accounts/login/" in page.url:
        raise AssertionError(f"Could not log in as {username}: still on the login page.")
