"""The dashboard in a real browser: Debian's chromium driven by Playwright against `streamlit run`.

One server per module (started as Streamlit's own end-to-end tests do: poll /_stcore/health until
"ok"), then wait for the app's script to finish before every assertion.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (`make test` installs Debian's chromium package)", allow_module_level=True)

from playwright.sync_api import Page, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TOP_PICK = ".st-key-top_pick"
STARTUP_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log = open(OUT / "streamlit-server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
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


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def wait_idle(page: Page) -> None:
    page.wait_for_selector(IDLE, timeout=RENDER_TIMEOUT_MS)


def test_a_cold_deep_link_opens_the_page_inside_the_app(server_url, page):
    # First request to this server: Streamlit's legacy pages/ mode would run the page bare.
    page.goto(f"{server_url}/whatif")
    wait_idle(page)
    page.wait_for_selector(".st-key-whatif_pick", timeout=RENDER_TIMEOUT_MS)
    assert page.get_by_text("Page not found").count() == 0
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "What-if" in nav and "streamlit app" not in nav.lower()


def test_more_requests_change_the_recommendation(server_url, page):
    page.goto(server_url)
    wait_idle(page)
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
    after = card.inner_text()
    assert after != before
    # The link now carries the change, so it reproduces this plan.
    page.wait_for_function("() => window.location.search.includes('requests_per_day=5000000')", timeout=10_000)
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "plan-after-volume-change.png"), full_page=True)


def test_a_link_with_parameters_reproduces_the_plan(server_url, page):
    page.goto(f"{server_url}/?privacy=offline&requests_per_day=200000")
    wait_idle(page)
    page.locator(TOP_PICK).wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "Self-host" in page.locator(".st-key-verdict").inner_text()
    # The sidebar form is drawn after the plan, so wait for the widget to show the linked value.
    page.wait_for_function(
        "() => { const el = document.querySelector('.st-key-requests_per_day input');"
        " return el && ['200000', '200,000'].includes(el.value); }", timeout=RENDER_TIMEOUT_MS)
    assert page.locator(".st-key-requests_per_day input").input_value() in {"200000", "200,000"}
