"""The dashboard served by ``ibxl demo`` to two tabs and a reload, in headless Chromium: every tab's
kernel attaches to the demo's one hub, so all of them stream live quotes over one API connection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from ports import free_port, wait_listening

# the browser test's Chromium (and its rule for when a missing one skips) and its price reader
from test_dashboard_browser import CHROMIUM, _prices
from test_hub import _alive


def _live(page: object, timeout: float = 90) -> bool:
    """True once the page shows five prices and they change."""
    deadline = time.monotonic() + timeout
    page.wait_for_selector(".ibxl-quote-price", timeout=timeout * 1000)
    first = _prices(page)
    while len(first) < 5 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        first = _prices(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        now = _prices(page)
        if len(now) >= 5 and now != first:
            return True
    return False


def test_two_tabs_and_a_reload_all_stream_through_one_hub(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           "IBXL_HUB_DIR": str(tmp_path / "hub")}
    env.pop("IBXL_PORT", None)
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--port", str(port), "--seconds", "300"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_listening(port, 90, proc), "the dashboard did not start"
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking"])
            pages = []
            for _ in range(2):
                page = browser.new_page(viewport={"width": 1200, "height": 1600})
                page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                    "http://127.0.0.1") else route.abort())
                page.goto(url, wait_until="domcontentloaded", timeout=120_000)
                pages.append(page)
            assert _live(pages[0]) and _live(pages[1]), "both tabs stream"
            pages[0].reload(wait_until="domcontentloaded", timeout=120_000)
            assert _live(pages[0]), "the reloaded tab streams"
            assert _live(pages[1], timeout=30), "the other tab still streams"
            for page in pages:
                assert "Error" not in page.locator("body").inner_text()[:5000]
            browser.close()
        status = subprocess.run([sys.executable, "-m", "ibxl", "hub", "status", "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        st = json.loads(status.stdout)
        assert st["connected"] and st["processes"] >= 2
        hub_pid = st["hub_pid"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run([sys.executable, "-m", "ibxl", "hub", "stop"], env=env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 15
    while _alive(hub_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(hub_pid), "the demo's hub outlived the demo"
