"""The dashboard in a real browser: Debian's chromium driven by Playwright against `streamlit run`.

One server per module (started as Streamlit's own end-to-end tests do: poll /_stcore/health until
"ok"), then wait for the app's script to finish before every assertion. Every page is walked at a
desktop (1440×900) and a phone (390×844) width as a new user would open it; a walk fails on a
traceback, a console error or any request to another origin than the app's own (the dashboard is
offline: no fonts, icons or scripts from elsewhere). Screenshots go to test-output/; with
UPDATE_DOCS_SCREENSHOTS=1 the Plan page's are also written to docs/img/ for the README.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (`make test` installs Debian's chromium package)", allow_module_level=True)

from playwright.sync_api import Page, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output"
DOCS_IMG = ROOT / "docs" / "img"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TOP_PICK = ".st-key-top_pick"
STARTUP_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 90_000
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}
# Each page at its file stem, and an element that shows it has drawn its main content.
PAGES = {
    "plan": ("/", TOP_PICK),
    "whatif": ("/whatif", ".st-key-whatif_pick"),
    "compare": ("/compare", "[data-testid='stAlert']"),
    "catalogue": ("/catalogue", "[data-testid='stDataFrame']"),
    "hardware": ("/hardware", "[data-testid='stAlert']"),
    "finetune": ("/finetune", "[data-testid='stDataFrame']"),
    "accuracy": ("/accuracy", "[data-testid='stPlotlyChart']"),
    "probe": ("/probe", ".st-key-probe_run"),
    "export": ("/export", ".st-key-export_pdf"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log = open(OUT / "streamlit-server.log", "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_PROBE_ALLOW")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {OUT / 'streamlit-server.log'}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page with everything it asked the network for and every error it logged."""

    def __init__(self, page: Page, origin: str):
        self.page, self.origin = page, origin
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("response", lambda r: self.console_errors.append(f"HTTP {r.status} for {r.url}")
                if r.status >= 400 and not _base_path_probe(r.url) else None)

    def _console(self, message) -> None:
        if message.type == "error" and not _base_path_probe((message.location or {}).get("url", "")):
            self.console_errors.append(f"{message.text} ({(message.location or {}).get('url', '')})")

    def external_requests(self) -> list[str]:
        own = urlsplit(self.origin)
        return [u for u in self.requests
                if urlsplit(u).scheme not in ("data", "blob", "about")
                and (urlsplit(u).hostname, urlsplit(u).port) != (own.hostname, own.port)]

    def assert_clean(self) -> None:
        page = self.page
        assert page.locator("[data-testid='stException']").count() == 0, page.locator("[data-testid='stException']").first.inner_text()
        body = page.locator("[data-testid='stMain']").inner_text()
        assert "Traceback" not in body and "ValueError" not in body
        assert not self.console_errors, self.console_errors
        assert not self.external_requests(), self.external_requests()


def _base_path_probe(url: str) -> bool:
    """Streamlit's frontend, opened on /whatif, first looks for its server under /whatif/_stcore/
    (the app might be served below a path) and gets a 404 before it tries the root: not an error."""
    path = urlsplit(url).path
    return path.endswith(("/_stcore/health", "/_stcore/host-config")) and path.count("/") > 2


def open_page(browser, server_url: str, path: str, width: str = "desktop") -> Watched:
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    watched = Watched(context.new_page(), server_url)
    watched.page.goto(server_url + path)
    wait_idle(watched.page)
    return watched


def wait_idle(page: Page) -> None:
    page.wait_for_selector(IDLE, timeout=RENDER_TIMEOUT_MS)
    # A rerun may follow at once (the URL being written back, a chart being measured): wait it out.
    time.sleep(0.5)
    page.wait_for_selector(IDLE, timeout=RENDER_TIMEOUT_MS)


def wait_value(page: Page, key: str, values: list[str]) -> None:
    """The sidebar form is drawn after the plan: wait for a field to show the value the link set."""
    page.wait_for_function("([key, values]) => { const el = document.querySelector(`.st-key-${key} input`);"
                           " return el && values.includes(el.value); }", arg=[key, values], timeout=RENDER_TIMEOUT_MS)


def screenshot(page: Page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its own container, so the viewport is made as tall as
    the content first."""
    OUT.mkdir(exist_ok=True)
    height = page.evaluate("Math.max(...[...document.querySelectorAll(\"[data-testid='stMain'], section\")]"
                           ".map(e => e.scrollHeight), 0)")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": max(300, min(int(height), 16_000))})
    time.sleep(0.8)  # plotly redraws at the new size
    wait_idle(page)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def close(watched: Watched) -> None:
    watched.page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_at_both_widths(browser, server_url, name, width):
    path, drawn = PAGES[name]
    watched = open_page(browser, server_url, path, width)
    try:
        watched.page.wait_for_selector(drawn, timeout=RENDER_TIMEOUT_MS)
        wait_idle(watched.page)
        watched.assert_clean()
        shot = screenshot(watched.page, f"{name}-{width}")
        watched.assert_clean()
        if name == "plan" and os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_IMG / f"plan-{width}.png")
        if width == "phone":
            # Nothing wider than the screen: tables scroll inside themselves, charts fit.
            overflow = watched.page.evaluate(
                "(() => { const m = document.querySelector(\"[data-testid='stMain']\"); return m.scrollWidth - m.clientWidth; })()")
            assert overflow <= 1, f"{name} is {overflow}px wider than a phone"
    finally:
        close(watched)


def test_the_phone_says_where_the_form_is(browser, server_url):
    watched = open_page(browser, server_url, "/", "phone")
    try:
        hint = watched.page.locator(".phone-hint")
        hint.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert hint.is_visible() and "tap" in hint.inner_text()
    finally:
        close(watched)
    watched = open_page(browser, server_url, "/", "desktop")
    try:
        assert not watched.page.locator(".phone-hint").is_visible()
    finally:
        close(watched)


def test_zero_requests_keeps_the_form_and_shows_no_traceback(browser, server_url):
    watched = open_page(browser, server_url, "/?requests_per_day=0")
    try:
        page = watched.page
        page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
        watched.assert_clean()
        wait_value(page, "requests_per_day", ["0"])
        box = page.locator(".st-key-requests_per_day input")
        # Emptying it: a message under the field, the form still there.
        box.fill("")
        box.press("Enter")
        page.wait_for_selector("[data-testid='stSidebar'] [data-testid='stAlertContentError']", timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        watched.assert_clean()
        assert page.locator(".st-key-budget_usd_per_month input").is_visible(), "the form disappeared"
        assert "Enter a number" in page.locator("[data-testid='stSidebar']").inner_text()
    finally:
        close(watched)


def test_an_emptied_budget_means_no_limit_and_stays_out_of_the_link(browser, server_url):
    watched = open_page(browser, server_url, "/?budget_usd_per_month=50000")
    try:
        page = watched.page
        page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
        wait_value(page, "budget_usd_per_month", ["50000", "50,000"])
        box = page.locator(".st-key-budget_usd_per_month input")
        box.fill("")
        box.press("Enter")
        page.wait_for_function("() => !window.location.search.includes('budget_usd_per_month')", timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        assert box.input_value() == "" and box.get_attribute("placeholder") == "no limit"
        assert "No self-hosted configuration fits" not in page.locator("[data-testid='stMain']").inner_text()
        watched.assert_clean()
    finally:
        close(watched)


def test_a_bad_parameter_is_named_and_the_rest_of_the_link_applies(browser, server_url):
    watched = open_page(browser, server_url, "/?commercial_use=maybe&privacy=offline&gpus_available=warp-drive:2")
    try:
        page = watched.page
        page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
        notice = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
        assert "Commercial use" in notice and "warp-drive" in notice
        assert "Self-host" in page.locator(".st-key-verdict").inner_text()  # privacy=offline still applied
        watched.assert_clean()
    finally:
        close(watched)


def test_a_plan_name_in_markdown_shows_as_typed(browser, server_url):
    name = "[Approved by CTO](https://evil.example/x) ![i](https://evil.example/p.png) <b>bold</b>"
    watched = open_page(browser, server_url, "/?name=" + urllib.request.quote(name))
    try:
        page = watched.page
        page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
        main = page.locator("[data-testid='stMain']")
        assert main.locator("a[href*='evil.example']").count() == 0 and main.locator("img[src*='evil.example']").count() == 0
        assert main.locator("b", has_text="bold").count() == 0
        assert "[Approved by CTO]" in main.inner_text().replace("\u200b", "")
        watched.assert_clean()  # and the image was never requested
    finally:
        close(watched)


def test_a_cold_deep_link_opens_the_page_inside_the_app(browser, server_url):
    watched = open_page(browser, server_url, "/whatif")
    try:
        page = watched.page
        page.wait_for_selector(".st-key-whatif_pick", timeout=RENDER_TIMEOUT_MS)
        assert page.get_by_text("Page not found").count() == 0
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "What-if" in nav and "streamlit app" not in nav.lower()
    finally:
        close(watched)


def test_more_requests_change_the_recommendation(browser, server_url):
    watched = open_page(browser, server_url, "/")
    try:
        page = watched.page
        card = page.locator(TOP_PICK)
        card.wait_for(timeout=RENDER_TIMEOUT_MS)
        before = card.inner_text()
        assert "replica" in before.lower() and "$" in before
        box = page.locator(".st-key-requests_per_day input")
        box.fill("5000000")
        box.press("Enter")
        page.wait_for_function(
            "([selector, before]) => { const el = document.querySelector(selector); return el && el.innerText !== before; }",
            arg=[TOP_PICK, before], timeout=RENDER_TIMEOUT_MS,
        )
        wait_idle(page)
        assert card.inner_text() != before
        # The link now carries the change, so it reproduces this plan.
        page.wait_for_function("() => window.location.search.includes('requests_per_day=5000000')", timeout=10_000)
        watched.assert_clean()
    finally:
        close(watched)


def test_a_link_with_parameters_reproduces_the_plan(browser, server_url):
    watched = open_page(browser, server_url, "/?privacy=offline&requests_per_day=200000")
    try:
        page = watched.page
        page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
        assert "Self-host" in page.locator(".st-key-verdict").inner_text()
        wait_value(page, "requests_per_day", ["200000", "200,000"])
        # On-premises never rents: the form says the planner buys the GPUs.
        assert "Buy GPUs" in page.locator(".st-key-hardware_mode").inner_text()
    finally:
        close(watched)
