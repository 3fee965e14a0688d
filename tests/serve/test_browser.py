"""The page in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from forestock.serve import ServeParams, create_app

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def page_url(china_ws: Path) -> Iterator[str]:
    """The dashboard of the rehearsed China world on a free loopback port, replaying the
    day from 00:00 at an hour a second, served from a thread."""
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(china_ws, ServeParams(speed=3600.0, tick=0.1))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_page_in_chromium(page_url: str, tmp_path: Path) -> None:
    """The page loads, the GMV ticker advances, the map and the leaderboard render, and the
    rehearsed stockouts show as alerts; a screenshot is written (``$FORESTOCK_SCREENSHOT``
    or the test's temporary folder)."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is missing (`make test` installs it with "
                    "apt where it may)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            # (the page's CSP forbids eval, which Playwright's waits use)
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, bypass_csp=True)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_url)
            page.wait_for_function("Number(document.querySelector('#ticker')"
                                   ".getAttribute('data-gmv')) > 0", timeout=20_000)
            first = float(page.get_attribute("#ticker", "data-gmv") or 0)
            page.wait_for_function(f"Number(document.querySelector('#ticker')"
                                   f".getAttribute('data-gmv')) > {first}", timeout=20_000)
            page.wait_for_selector("#map[data-ready] canvas", timeout=20_000)
            page.wait_for_selector("#leaderboard tbody tr", timeout=20_000)
            page.wait_for_function("[...document.querySelectorAll('#alerts li.stockout')]"
                                   ".some(li => li.textContent.includes('out of stock'))",
                                   timeout=20_000)
            assert page.locator("#leaderboard tbody tr").count() >= 3
            assert page.locator("#water canvas").count() == 1
            shot = Path(os.environ.get("FORESTOCK_SCREENSHOT", tmp_path / "dashboard.png"))
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert errors == []
        finally:
            browser.close()
