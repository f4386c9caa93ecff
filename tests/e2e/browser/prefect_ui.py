"""Driving the Prefect UI the way a person does, one small step per function, with a screenshot after each.

Selectors were read from the real UI of Prefect 3.9 (its classic Vue UI): the Runs page's search box and run
links, a paused run's "Resume" button, the "Resume Flow Run" dialog with the form generated from the RunInput's
schema (a select per ``Literal`` field, a text area per ``str`` field, each under its field's title), and the state
badge beside the run's name. Every wait is on something the page shows, with a generous timeout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking switches Chromium keeps calling home, and this machine's closed network
# refuses those connections; --no-sandbox because the tests run as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 60_000  # the UI's first load compiles and fetches a lot on a busy 2-core machine
STATE_TIMEOUT_MS = 120_000


@contextmanager
def chromium(user_data_dir: Path) -> Iterator[BrowserContext]:
    """Debian's headless Chromium with a fresh profile in ``user_data_dir``."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: Debian's chromium package; install it with scripts/setup.sh")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@dataclass
class Screenshots:
    """Numbered full-page screenshots of each step, in ``folder``."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def sign_in(page: Page, ui_url: str, login: str, shots: Screenshots) -> None:
    """The UI of a server that asks for a login shows its login form first: type the login there."""
    page.goto(f"{ui_url}/runs")
    password = page.locator("input[type=password]")
    expect(password).to_be_visible()
    shots.take(page, "the UI asks for a login")
    password.fill(login)
    page.get_by_role("button", name="Login").click()
    expect(password).to_be_hidden()  # the form is gone: the UI took the login and went on to the page asked for
    shots.take(page, "signed in")


def open_run(page: Page, ui_url: str, run_name: str, shots: Screenshots, state: str) -> None:
    """From the Runs page, search for ``run_name``, check that it is shown in ``state``, and open it."""
    page.goto(f"{ui_url}/runs")
    # the page holds a second, hidden search box for narrow screens
    search = page.get_by_placeholder("Search by flow run name").filter(visible=True)
    search.fill(run_name)
    link = page.get_by_role("link", name=run_name, exact=True)
    expect(link).to_be_visible()
    # the list filters as the search box asks (after a debounce): wait until it shows only matching runs
    expect(page.locator(".flow-run-list-item").filter(has_not_text=run_name)).to_have_count(0)
    row = page.locator(".flow-run-list-item").filter(has=page.get_by_role("link", name=run_name, exact=True))
    expect(row.first).to_contain_text(state, timeout=STATE_TIMEOUT_MS)
    shots.take(page, f"runs page shows {run_name} {state.lower()}")
    link.click()
    expect(run_state_badge(page)).to_have_text(state)
    shots.take(page, f"{run_name} {state.lower()}")


def open_parent_run(page: Page, run_name: str, shots: Screenshots, state: str) -> None:
    """From a subflow run's page, follow its "Parent Run" link to ``run_name`` and wait until it shows ``state``.

    The UI routes there itself, as a person's click does: no reload of the whole UI, which on a busy 2-core machine
    (a release deploying beside it) can take longer than any wait for the Runs page's search box. Open it once the
    run has ended: a run page routed to this way while the run still ran was seen to keep its first badge
    ("Running") for two minutes after the run's own log said it had completed (issue 21, proof 5). Prefect's UI
    is known to do so: a run page reached by in-app navigation may render the state it first read and never poll
    again until reloaded (PrefectHQ/prefect#22969, Prefect 3.8)."""
    page.locator(".page-heading-flow-run").get_by_role("link", name=run_name, exact=True).click()
    expect(page.locator(".page-heading-flow-run")).to_contain_text(run_name)
    expect(run_state_badge(page)).to_have_text(state, timeout=STATE_TIMEOUT_MS)
    shots.take(page, f"{run_name} {state.lower()}")


def open_paused_run(page: Page, ui_url: str, run_name: str, shots: Screenshots) -> None:
    """The run ``run_name``, waiting for its approval."""
    open_run(page, ui_url, run_name, shots, "Paused")


def run_state_badge(page: Page) -> Locator:
    """The state badge in the run page's header (beside the run's name)."""
    return page.locator(".page-heading-flow-run .state-badge").first


def open_resume_form(page: Page) -> Locator:
    """Press "Resume" and return the dialog holding the approval form."""
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Resume Flow Run")
    return dialog


def form_property(form: Locator, title: str) -> Locator:
    """A generated form's field, found by the title shown above it (``Ticket`` matches ``Ticket (Optional)``)."""
    # `has=` locators are relative to the element they filter, so this one starts from the page
    label = form.page.locator(".schema-form-property__label").filter(has_text=re.compile(rf"^{re.escape(title)}\b"))
    return form.locator(".schema-form-property").filter(has=label).first


def choose(form: Locator, title: str, option: str) -> None:
    """Pick ``option`` in the select of field ``title``.

    Opened with its chevron: in Prefect 3.9's UI a click on the select's body does not open the list (seen in
    headless Chromium 156); the chevron does, and so does the keyboard, which is the fallback.
    """
    select = form_property(form, title)
    choice = form.page.get_by_role("option", name=option, exact=True)
    select.locator(".p-select-button__icon").click()
    try:
        choice.wait_for(state="visible", timeout=10_000)
    except PlaywrightTimeoutError:
        select.locator("button.p-select-button__control").focus()
        form.page.keyboard.press("ArrowDown")
    choice.click()
    expect(select).to_contain_text(option)


def type_into(form: Locator, title: str, text: str) -> None:
    form_property(form, title).locator("textarea, input").first.fill(text)


def submit_approval_form(
    page: Page,
    shots: Screenshots,
    *,
    decision: str,
    approver: str,
    ticket: str = "",
    comment: str = "",
    shows: tuple[str, ...] = (),
) -> None:
    """Open the resume form (above its fields: each of ``shows``), fill in the approval, and submit it; the dialog
    closes once the server took it."""
    dialog = open_resume_form(page)
    for text in shows:
        expect(dialog).to_contain_text(text)
    shots.take(page, "approval form")
    choose(dialog, "Decision", decision)
    type_into(dialog, "Approver", approver)
    if ticket:
        type_into(dialog, "Ticket", ticket)
    if comment:
        type_into(dialog, "Comment", comment)
    shots.take(page, f"approval form filled ({decision})")
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog).to_be_hidden()
    shots.take(page, "approval submitted")


def wait_for_state(page: Page, state: str, shots: Screenshots, timeout_ms: int = STATE_TIMEOUT_MS) -> None:
    """Wait until the run page shows the run in ``state`` (the page polls the server by itself)."""
    expect(run_state_badge(page)).to_have_text(state, timeout=timeout_ms)
    shots.take(page, f"run {state.lower()}")


def wait_for_log(page: Page, text: str, shots: Screenshots) -> None:
    """Wait until the run page's log shows a line containing ``text`` (logs reach the server in batches).

    The page renders only the log lines near where it is scrolled to: a release run logs its deploys' tasks too,
    so its later lines are further down, and the page is scrolled down the log until the line is there."""
    row = page.locator(".log-row").filter(has_text=text).first
    deadline = time.monotonic() + STATE_TIMEOUT_MS / 1000
    while not row.is_visible() and time.monotonic() < deadline:
        rows = page.locator(".log-row")
        if rows.count():
            rows.last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(300)
    expect(row).to_be_visible(timeout=1_000)
    row.scroll_into_view_if_needed()
    shots.take(page, "log")
