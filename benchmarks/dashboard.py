"""Load on `forestock serve`: many concurrent event streams against a replay, on loopback.

Builds a small China world, rehearses 11.11 with ``simulate --live`` (a plan short of
demand, so stockouts come up), starts the dashboard in its own process replaying that day,
measures the page's first paint from the server's cold start (Playwright driving Debian's
chromium, where installed), then opens ``--streams`` event streams for ``--seconds`` and
reports frames delivered, frames lost (gaps in the frames' sequence numbers), the delay
from publication (the server's stamp on a frame) to receipt (p50, p99), and the server's
resident memory over the run. The last line printed is one JSON object.

    .venv/bin/python benchmarks/dashboard.py            # 200 streams for 60 s
    .venv/bin/python benchmarks/dashboard.py --quick    # 20 streams for 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEQ = re.compile(rb'"seq":(\d+),"published":([0-9.e+]+)')
CHROMIUM = Path("/usr/bin/chromium")


def build_workspace(folder: Path) -> None:
    """The China world (seed 0, 24 SKUs, 31 regions), a plan of 70% of each region's event
    day at its nearest warehouse, and 11.11 rehearsed with `simulate --live --scale 3`."""
    from forestock.cli import main
    from forestock.workspace import Workspace
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.serve.conftest import short_plan

    if main(["world", "-w", str(folder), "--skus", "24", "--regions", "31", "--json"]) != 0:
        raise SystemExit("world failed")
    ws = Workspace(folder)
    ws.write("plan", short_plan(ws, 0.7))
    if main(["simulate", "-w", str(folder), "--live", "--scale", "3", "--chunk-orders", "5000",
             "--json"]) != 0:
        raise SystemExit("simulate failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(ws: Path, port: int, speed: float) -> subprocess.Popen[bytes]:
    code = ("import sys; from forestock.serve import ServeParams, serve; "
            f"serve(sys.argv[1], ServeParams(port={port}, speed={speed}))")
    return subprocess.Popen([sys.executable, "-c", code, str(ws)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_port(port: int, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_paint(ws: Path, speed: float) -> dict[str, float] | None:
    """Seconds from launching the server to the page's first contentful paint (the browser
    started beforehand: its own start-up is not the server's)."""
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        port = free_port()
        t0 = time.perf_counter()
        proc = start_server(ws, port, speed)
        try:
            wait_port(port, proc)
            t_up = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            nav_to_fcp = page.evaluate(
                "new Promise(r => { const f = () => { const e = performance"
                ".getEntriesByName('first-contentful-paint'); e.length ? r(e[0].startTime) "
                ": setTimeout(f, 10); }; f(); })")
            page.wait_for_selector("#ticker[data-gmv]", timeout=20_000)
            t_data = time.perf_counter()
            t_nav = t_up  # navigation starts right after the port answers
            return {"server_up_s": round(t_up - t0, 3),
                    "first_paint_s": round(t_nav - t0 + nav_to_fcp / 1000, 3),
                    "first_frame_s": round(t_data - t0, 3)}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            browser.close()


async def stream(port: int, until: float, out: dict[str, list[float]], seqs: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=left)
            except TimeoutError:
                break
            if not line:
                break
            if line.startswith(b"data: "):
                now = time.time()
                m = SEQ.search(line)
                if m:
                    seqs.append(int(m.group(1)))
                    out["delay"].append(now - float(m.group(2)))
    finally:
        writer.close()


async def load(port: int, n: int, seconds: float) -> tuple[list[float], list[list[int]]]:
    out: dict[str, list[float]] = {"delay": []}
    seqs: list[list[int]] = [[] for _ in range(n)]
    until = time.monotonic() + seconds
    await asyncio.gather(*(stream(port, until, out, seqs[i]) for i in range(n)))
    return out["delay"], seqs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 streams for 5 s")
    ap.add_argument("--streams", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--workspace", type=Path, default=None,
                    help="a workspace rehearsed with simulate --live (default: built here)")
    args = ap.parse_args()
    n = args.streams or (20 if args.quick else 200)
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    if not (1 <= n <= 500 and 1 <= seconds <= 120):
        raise SystemExit("streams must be within 1..500 and seconds within 1..120")
    speed = 86_400 / (seconds * 1.5)  # the replay lasts beyond the run
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace
        if ws is None:
            ws = Path(tmp) / "ws"
            build_workspace(ws)
        paint = first_paint(ws, speed)
        if paint:
            print(f"first paint {paint['first_paint_s']:.2f} s after the server's launch "
                  f"(server up {paint['server_up_s']:.2f} s, first frame "
                  f"{paint['first_frame_s']:.2f} s)")
        port = free_port()
        proc = start_server(ws, port, speed)
        try:
            wait_port(port, proc)
            rss_idle = rss_mb(proc.pid)
            samples: list[float] = []

            async def run() -> tuple[list[float], list[list[int]]]:
                task = asyncio.create_task(load(port, n, seconds))
                while not task.done():
                    await asyncio.sleep(1.0)
                    samples.append(rss_mb(proc.pid))
                return await task

            delays, seqs = asyncio.run(run())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    got = sum(len(s) for s in seqs)
    lost = 0
    for s in seqs:  # after each stream's first (full) frame, every frame in turn
        if len(s) > 1:
            lost += (s[-1] - s[0] + 1) - len(set(s))
    d = np.array(delays) * 1000
    mid = samples[len(samples) // 3] if samples else float("nan")
    result = {
        "benchmark": "dashboard", "streams": n, "seconds": seconds,
        "replay_speed": round(speed, 1),
        "frames_published": int(max((s[-1] for s in seqs if s), default=0)
                                - min((s[0] for s in seqs if s), default=0) + 1),
        "frames_delivered": got, "frames_lost": int(lost),
        "streams_connected": sum(1 for s in seqs if s),
        "delay_ms_p50": round(float(np.percentile(d, 50)), 2) if d.size else None,
        "delay_ms_p99": round(float(np.percentile(d, 99)), 2) if d.size else None,
        "delay_ms_max": round(float(d.max()), 2) if d.size else None,
        "server_rss_mb_idle": round(rss_idle, 1),
        "server_rss_mb_third": round(mid, 1),
        "server_rss_mb_end": round(samples[-1], 1) if samples else None,
        "server_rss_mb_max": round(max(samples), 1) if samples else None,
        **(paint or {"first_paint_s": None}),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
