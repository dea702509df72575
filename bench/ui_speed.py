"""How fast the dashboard answers: a What-if slider rerun on the server, and the first plan in a browser.

    .venv/bin/python bench/ui_speed.py

1. Server time of a What-if rerun after moving the volume slider (AppTest, in process): the
   median over the slider's positions, once with the plans still to compute (cold) and once
   cached (warm, as when a user drags back and forth). Target: warm median < 200 ms.
2. Time from opening the Plan page in headless chromium to the recommendation being drawn: the
   first visit to a freshly started server with an empty browser cache, and a revisit. Target < 3 s.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
TARGET_RERUN_MS = 200
TARGET_FIRST_PLAN_S = 3.0


def slider_reruns_ms() -> tuple[list[float], list[float]]:
    """(cold, warm) server times of reruns after setting the What-if volume slider."""
    from streamlit.testing.v1 import AppTest

    from planner.plan.whatif import VOLUME_OPTIONS_TOKENS_PER_MONTH

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.switch_page("pages/whatif.py").run()
    assert not at.exception, at.exception
    timings: dict[str, list[float]] = {"cold": [], "warm": []}
    for phase in ("cold", "warm"):
        for volume in VOLUME_OPTIONS_TOKENS_PER_MONTH:
            at.select_slider(key="whatif_volume").set_value(volume)
            start = time.perf_counter()
            at.run()
            timings[phase].append((time.perf_counter() - start) * 1000)
            assert not at.exception, at.exception
    return timings["cold"], timings["warm"]


def browser_first_plan_s(trials: int = 3) -> tuple[list[float], list[float]] | None:
    """Seconds from navigation to the top pick drawn: (first visits on a fresh server with an empty
    browser cache, revisits with the plan and the browser cache warm), one of each per trial.
    None without chromium."""
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    first, again = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        for _ in range(trials):
            with _server() as url:
                context = browser.new_context()
                page = context.new_page()
                first.append(_time_to_top_pick(page, url))
                again.append(_time_to_top_pick(page, url))
                context.close()
        browser.close()
    return first, again


def _time_to_top_pick(page, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.locator(".st-key-top_pick").get_by_text("Replicas").wait_for(timeout=60_000)
    return time.perf_counter() - start


@contextlib.contextmanager
def _server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(url + "_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    cold, warm = slider_reruns_ms()
    print(f"What-if slider rerun, server time over {len(warm)} volumes: "
          f"median {statistics.median(warm):.0f} ms cached (target < {TARGET_RERUN_MS} ms), "
          f"median {statistics.median(cold):.0f} ms / max {max(cold):.0f} ms on first visit to each volume")
    browser = browser_first_plan_s()
    if browser is None:
        print(f"Browser: skipped ({CHROMIUM} missing)")
    else:
        first, again = browser
        print(f"Browser, time to first rendered recommendation (median of {len(first)}): "
              f"{statistics.median(first):.2f} s first visit to a fresh server (empty browser cache), "
              f"{statistics.median(again):.2f} s on a revisit (target < {TARGET_FIRST_PLAN_S:g} s; "
              f"{os.cpu_count()} CPU cores shared by server and browser)")


if __name__ == "__main__":
    main()
