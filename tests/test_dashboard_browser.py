"""The Voila dashboard in a real browser (Debian's chromium, driven by Playwright): a quote board with
numeric prices that change, an option chain with rows, an account summary, a scanner whose rows
carry figures; a screenshot is saved."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leftovers import describe, kill, marked, settle
from ports import free_port, wait_listening

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

# `make test` (and so CI) requires the browser: there this test fails rather than skips.
if not Path(CHROMIUM).exists() and not (os.environ.get("CI") or os.environ.get("IBXL_REQUIRE_BROWSER")):
    pytest.skip("chromium is not installed (make browser installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    port = free_port()
    tmp = tmp_path_factory.mktemp("demo")
    token = secrets.token_hex(8)
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp / "cache"), "IBXL_DATA_DIR": str(tmp / "data"),
           "IBXL_BROWSER_TEST": token}
    env.pop("IBXL_PORT", None)
    log = tmp / "demo.log"  # a file, not a pipe nobody reads while the test runs
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--port", str(port), "--seconds", "240"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if not wait_listening(port, 90, proc):
        proc.terminate()
        proc.wait(60)
        kill(marked("IBXL_BROWSER_TEST", token))
        pytest.fail("the dashboard did not start: " + log.read_text()[-3000:])
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()  # SIGTERM, as a service manager stops it: Voila and its kernels stop too
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    left = settle(lambda: marked("IBXL_BROWSER_TEST", token))
    kill(left)
    assert not left, f"the demo left processes running:\n{describe(left)}"


def _prices(page) -> list[float]:
    texts = page.locator(".ibxl-quote-price").all_inner_texts()
    return [float(t.replace(",", "")) for t in texts if re.fullmatch(r"[\d,]+\.\d+", t.strip())]


def test_dashboard_shows_live_quotes_a_chain_and_the_account(dashboard):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        # only the local dashboard: the widgets' font requests to a CDN are refused
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
                   else route.abort())
        page.goto(dashboard, wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_selector(".ibxl-quote-price", timeout=120_000)
        deadline = time.monotonic() + 30
        first = _prices(page)
        while len(first) < 5 and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            first = _prices(page)
        assert len(first) >= 5 and all(p > 0 for p in first), first
        changed = False
        while not changed and time.monotonic() < deadline + 20:
            page.wait_for_timeout(1000)
            changed = _prices(page) != first
        assert changed, "prices stream"
        page.wait_for_selector(".ibxl-chain-row", timeout=90_000)
        assert page.locator(".ibxl-chain-row").count() >= 5
        page.wait_for_selector(".ibxl-option-chain img", timeout=60_000)  # the IV smile, drawn as a PNG
        page.wait_for_selector(".ibxl-figure-value", timeout=60_000)
        summary = page.locator(".ibxl-account-summary").inner_text()
        assert "NetLiquidation" in summary and "BuyingPower" in summary
        # the scanner's ranked rows carry figures: last, change, % change and volume
        page.wait_for_selector(".ibxl-scan-row .ibxl-scan-change-pct", timeout=90_000)
        for cls in ("last", "change", "change-pct", "volume"):
            texts = page.locator(f".ibxl-scan-row .ibxl-scan-{cls}").all_inner_texts()
            numbers = [t for t in texts if re.fullmatch(r"-?[\d,]+(\.\d+)?", t.strip())]
            assert len(numbers) >= 5 and len(numbers) == len(texts), (cls, texts)
        assert page.locator(".ibxl-scan-ranked").count() == 1, "the figure the scan ranks by is marked"
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
