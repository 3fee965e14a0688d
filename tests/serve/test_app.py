"""The web application: token, assets, replay controls, and the hub's fan-out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from forestock.cli import main
from forestock.serve import Hub, ServeParams, create_app, map_names, progress_path

pytest.importorskip("httpx2", reason="the app's tests need httpx2 (the dev extra)")
from fastapi.testclient import TestClient


def test_token_guards_every_request(china_ws: Path) -> None:
    """With a token, a request without it gets 401; the page opened with ?token= sets a
    cookie that then serves its assets; responses forbid other origins."""
    app = create_app(china_ws, ServeParams(host="0.0.0.0", token="correct-horse"))
    with TestClient(app) as c:
        assert c.get("/").status_code == 401
        assert c.get("/api/status", headers={"Authorization": "Bearer wrong-horse"}
                     ).status_code == 401
        page = c.get("/?token=correct-horse")
        assert page.status_code == 200 and "control room" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert c.get("/static/vendor/echarts.min.js").status_code == 200  # by the cookie
        assert c.get("/api/status").json()["mode"] == "replay"


def test_assets_and_controls(china_ws: Path) -> None:
    """The vendored library, map and licence are served; no path leaves the static folder;
    a finished rehearsal can be paused, sought and sped up; bad requests get 400."""
    with TestClient(create_app(china_ws)) as c:
        for name in ("vendor/echarts.min.js", "vendor/china.json", "vendor/LICENSE-echarts.txt",
                     "vendor/SOURCE.md", "app.js", "app.css"):
            assert c.get(f"/static/{name}").status_code == 200, name
        assert c.get("/static/../_app.py").status_code == 404
        assert c.get("/static/vendor/%2e%2e/%2e%2e/_app.py").status_code == 404
        assert c.post("/api/replay", json={"action": "pause"}).json()["state"] == "paused"
        got = c.post("/api/replay", json={"action": "seek", "value": 43_200}).json()
        assert got["second"] == 43_200
        assert c.post("/api/replay", json={"action": "speed", "value": 60}).json()["speed"] == 60
        assert c.post("/api/replay", json={"action": "jump"}).status_code == 400
        assert c.post("/api/replay", json={"action": "seek", "value": -1}).status_code == 400
        frame = c.get("/api/frame").json()
        assert frame["day"] == "2027-11-11" and frame["provinces"] and frame["brands"]


def test_hub_fans_out_and_resyncs_a_slow_viewer(china_ws: Path) -> None:
    """Every viewer gets every frame in order after a full first one; a viewer whose queue
    is full gets one full frame in place of what it missed."""

    async def run() -> None:
        hub = Hub(progress_path(china_ws), ServeParams(queue_frames=4), map_names())
        hub.poll()
        fast, slow = hub.subscribe(), hub.subscribe()
        got: list[dict[str, object]] = []
        for _ in range(10):
            hub.tick()
            while not fast.queue.empty():
                got.append(json.loads(fast.queue.get_nowait().decode().split("data: ", 1)[1]))
        assert [f["seq"] for f in got[1:]] == list(range(1, 11))
        assert got[0]["series_from"] == 0 and "expected_ps" in got[0]
        assert slow.resyncs > 0 and slow.queue.qsize() <= 4

    asyncio.run(run())


def test_serve_refuses_other_hosts_without_token(china_ws: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock serve --host 0.0.0.0` without a token exits 2 with one error line."""
    assert main(["serve", "-w", str(china_ws), "--host", "0.0.0.0"]) == 2
    assert "needs a token" in capsys.readouterr().err
