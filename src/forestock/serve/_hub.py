"""The clock and the fan-out: one frame a tick, encoded once, queued to every viewer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from forestock.serve._progress import ProgressReader
from forestock.serve._timeline import SECONDS, ServeParams, Timeline

log = logging.getLogger("forestock.serve")


class HubMode(StrEnum):
    """What the dashboard follows (the value is what ``/api/status`` says)."""

    WAITING = "waiting"
    """No rehearsal in the progress file yet."""
    LIVE = "live"
    """A rehearsal still running: frames follow its last chunk."""
    REPLAY = "replay"
    """A finished rehearsal, played, paused and sought at will."""


@dataclass(eq=False)
class Viewer:
    """One event stream: its queue of encoded frames."""

    queue: asyncio.Queue[bytes]
    resyncs: int = 0


@dataclass
class Hub:
    """Follows a progress file (a live rehearsal) or replays a finished one.

    A live rehearsal's frames follow its last chunk; a finished one plays at
    ``params.speed`` from ``params.start`` and can be paused, played and sought
    (:meth:`control`). Every ``params.tick`` seconds one frame goes to every
    viewer (one JSON encoding for all); a viewer whose queue is full gets one
    full frame in place of what it missed, so its page stays whole.
    """

    path: Path
    params: ServeParams = field(default_factory=ServeParams)
    map_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reader = ProgressReader(self.path)
        self.timeline: Timeline | None = None
        self.viewers: set[Viewer] = set()
        self.seq = 0
        self.clock = float(self.params.start)
        self.playing = True
        self.speed = float(self.params.speed)
        self.mode = HubMode.WAITING  # then live or replay
        self.last_minute = 0
        self._pending: list[dict[str, Any]] = []
        self._reset = True
        self._wall = time.monotonic()
        self.published = 0

    # -- the file ------------------------------------------------------------------------

    def poll(self) -> None:
        """Read what the progress file gained."""
        records = self.reader.poll()
        if self.reader.reset:
            self.timeline = None
        for rec in records:
            if rec.get("type") == "day":
                self.timeline = Timeline(rec, self.params, self.map_names)
                self.mode = HubMode.WAITING
                self.clock = float(self.params.start)
                self._reset = True
            elif self.timeline is not None:
                self.timeline.add(rec)
        tl = self.timeline
        if tl is None:
            return
        if self.mode == HubMode.WAITING and (tl.finished or tl.chunks):
            self.mode = HubMode.REPLAY if tl.finished else HubMode.LIVE
            self._reset = True
        if self.mode == HubMode.LIVE and tl.finished:
            self.mode = HubMode.REPLAY  # stays at the end, paused, until played or sought
            self.clock, self.playing = float(tl.head), False

    # -- the clock -----------------------------------------------------------------------

    def advance(self) -> None:
        now = time.monotonic()
        dt, self._wall = now - self._wall, now
        tl = self.timeline
        if tl is None:
            return
        if self.mode == HubMode.LIVE:
            self.clock = float(tl.head)
        elif self.mode == HubMode.REPLAY and self.playing:
            self.clock = min(self.clock + dt * self.speed, float(max(tl.head, 1)))
            if self.clock >= tl.head:
                self.playing = False

    def control(self, action: str, value: float | None = None) -> dict[str, Any]:
        """``play``, ``pause``, ``seek`` (to second ``value``) or ``speed`` (``value`` day
        seconds a second) a replay; raise ``ValueError`` naming a bad one."""
        if action not in ("play", "pause", "seek", "speed"):
            raise ValueError(f"unknown action {action!r} (play, pause, seek, speed)")
        if action in ("seek", "speed") and value is None:
            raise ValueError(f"{action} needs a value")
        if self.mode != HubMode.REPLAY:
            raise ValueError(f"the rehearsal is {self.mode}: only a finished one is replayed")
        if action == "play":
            if self.timeline is not None and self.clock >= self.timeline.head:
                self.clock = 0.0
                self._reset = True
            self.playing = True
        elif action == "pause":
            self.playing = False
        elif action == "seek":
            assert value is not None
            if not 0 <= value <= SECONDS:
                raise ValueError(f"seek to a second within 0..86400, got {value}")
            self.clock = float(value)
            self._reset = True
        else:
            assert value is not None
            if not 0 < value <= 100_000:
                raise ValueError(f"speed must be within 0..100000 day seconds a second, "
                                 f"got {value}")
            self.speed = float(value)
        return self.status()

    def status(self) -> dict[str, Any]:
        state = str(self.mode)
        if self.mode == HubMode.REPLAY:
            state = "playing" if self.playing else "paused"
        return {"mode": str(self.mode), "state": state, "speed": self.speed,
                "second": round(self.clock, 1), "viewers": len(self.viewers)}

    # -- frames --------------------------------------------------------------------------

    def frame(self, series_from: int) -> dict[str, Any]:
        out = self.status()
        if self.timeline is None:
            out.update({"waiting": str(self.path)})
            return out
        out.update(self.timeline.frame(self.clock, series_from))
        return out

    def encode(self, frame: dict[str, Any]) -> bytes:
        self.seq += 1
        frame["seq"] = self.seq
        frame["published"] = time.time()
        data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.seq}\nevent: frame\ndata: {data}\n\n".encode()

    def full(self) -> bytes:
        """A frame with the whole day's series, for a new viewer (not counted in ``seq``)."""
        frame = self.frame(0)
        frame["seq"] = self.seq
        frame["published"] = time.time()
        data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        return f"event: frame\ndata: {data}\n\n".encode()

    def tick(self) -> None:
        """Read the file, move the clock, send one frame to every viewer."""
        self.poll()
        self.advance()
        minute = int(min(self.clock, SECONDS - 1) // 60)
        series_from = 0 if self._reset or minute < self.last_minute else self.last_minute
        self._reset = False
        self.last_minute = minute
        self.broadcast(self.encode(self.frame(series_from)))

    def broadcast(self, data: bytes) -> None:
        full: bytes | None = None
        for v in self.viewers:
            try:
                v.queue.put_nowait(data)
            except asyncio.QueueFull:
                full = full or self.full()
                while not v.queue.empty():
                    v.queue.get_nowait()
                v.queue.put_nowait(full)
                v.resyncs += 1
        self.published += 1

    def subscribe(self) -> Viewer:
        v = Viewer(asyncio.Queue(maxsize=self.params.queue_frames))
        v.queue.put_nowait(self.full())
        self.viewers.add(v)
        return v

    def unsubscribe(self, v: Viewer) -> None:
        self.viewers.discard(v)

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            try:
                self.tick()
            except Exception:  # a bad record: say so and keep serving what was read
                log.exception("dashboard tick failed")
            await asyncio.sleep(self.params.tick)
