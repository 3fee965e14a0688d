"""A rehearsal's progress records as a timeline: the dashboard's frame at any second."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forestock.errors import ForestockError
from forestock.params import Params, within

SECONDS = 86_400
MINUTES = 1_440
MILESTONES = (100_000_000.0, 1_000_000_000.0)
"""Brand GMV marks on the leaderboard: CNY 100 million and 1 billion."""


@dataclass(frozen=True)
class ServeParams(Params):
    """How the dashboard serves and what it calls an alert.

    Attributes
    ----------
    host
        Interface to bind; anything but loopback needs ``token``.
    port
        TCP port (0: any free one).
    token
        Secret every request must carry (``?token=``, a cookie the page sets,
        or ``Authorization: Bearer``); ``None``: none asked (loopback only).
    speed
        Replay speed in seconds of the day per second (360: the day in 4 minutes).
    start
        Second of the day a replay starts at.
    tick
        Seconds between frames sent to the page.
    backlog_hours
        Alert when a warehouse's waiting parcels exceed this many hours of its
        outbound capacity.
    promise_share
        Alert when a region's share of units delivered within 24 h falls below this.
    min_units
        A region's units before its share counts for an alert.
    queue_frames
        Frames held for a slow viewer before it is sent one full frame instead.
    """

    section = "serve"
    checks = (
        within("[0, 65_535]", "port", integer=True),
        within("(0, inf]", "speed", "backlog_hours"),
        within(f"[0, {SECONDS}]", "start"),
        within("[0.02, 1]", "tick"),  # a frame at least once a second
        within("[0, 1]", "promise_share"),
        within("[0, inf)", "min_units", integer=True),
        within("[2, inf)", "queue_frames", integer=True),
    )

    host: str = "127.0.0.1"
    port: int = 8018
    token: str | None = None
    speed: float = 360.0
    start: float = 0.0
    tick: float = 0.25
    backlog_hours: float = 4.0
    promise_share: float = 0.8
    min_units: int = 100
    queue_frames: int = 64

    def _validate(self) -> None:
        if self.token is not None and len(self.token) < 8:
            raise ValueError("token must be at least 8 characters")
        if not is_loopback(self.host) and self.token is None:
            raise ValueError(f"serving on {self.host!r} (beyond this machine) needs a token")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only."""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def map_name(province: str, names: list[str]) -> str | None:
    """The map's name for ``province`` (the map's names are short: 河北 for 河北省)."""
    best = None
    for n in names:
        if province.startswith(n) and (best is None or len(n) > len(best)):
            best = n
    return best


@dataclass
class _Alert:
    second: int
    kind: str
    text: str


@dataclass
class Timeline:
    """The records of one rehearsal, read so far, and the frame at any second.

    Parameters
    ----------
    header
        The progress file's ``day`` record.
    params
        Alert thresholds.
    map_names
        Province names on the map (regions elsewhere are counted off the map).
    """

    header: dict[str, Any]
    params: ServeParams = field(default_factory=ServeParams)
    map_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        h = self.header
        if h.get("type") != "day":
            raise ForestockError("a progress file must start with its day record")
        self.day = str(h["day"])
        self.run = str(h.get("run", ""))
        self.regions = h["regions"]
        self.warehouses = h["warehouses"]
        self.brands = h["brands"]
        self.capacity = np.array([max(int(w["capacity"]), 1) for w in self.warehouses],
                                 dtype=np.float64)
        names = [map_name(r["province"], self.map_names) for r in self.regions]
        self.provinces = sorted({n for n in names if n is not None})
        code = {n: j for j, n in enumerate(self.provinces)}
        self.region_province = np.array([code.get(n, -1) if n else -1 for n in names],
                                        dtype=np.int64)
        self.off_map = int((self.region_province < 0).sum())
        expected = np.zeros(MINUTES)
        given = np.asarray(h.get("expected_per_minute", []), dtype=np.float64)[:MINUTES]
        expected[:given.size] = given
        self.expected = expected
        self.expected_source = str(h.get("expected_source", ""))
        self.minute_orders = np.zeros(MINUTES)
        self.minute_gmv = np.zeros(MINUTES)
        self.cum_orders = np.zeros(MINUTES + 1)
        self.cum_gmv = np.zeros(MINUTES + 1)
        self.chunks: list[dict[str, Any]] = []
        self.ends: list[int] = []  # each chunk's s1
        self.alerts: list[_Alert] = []
        self.alert_seconds: list[int] = []
        self.crossed = np.full((len(self.brands), len(MILESTONES)), SECONDS + 1, dtype=np.int64)
        self.finished = False
        self._backlog_on = np.zeros(len(self.warehouses), dtype=bool)
        self._region_on = np.zeros(len(self.regions), dtype=bool)
        self._dirty_from = MINUTES

    # -- reading -------------------------------------------------------------------------

    def add(self, record: dict[str, Any]) -> None:
        """Take the next record of the file."""
        kind = record.get("type")
        if kind == "end":
            self.finished = True
            return
        if kind != "chunk":
            raise ForestockError(f"unexpected progress record of type {kind!r}")
        s1 = int(record["s1"])
        m0 = int(record["minute0"])
        orders = np.asarray(record["minute_orders"], dtype=np.float64)
        gmv = np.asarray(record["minute_gmv"], dtype=np.float64)
        self.minute_orders[m0:m0 + orders.size] = orders
        self.minute_gmv[m0:m0 + gmv.size] = gmv
        self._dirty_from = min(self._dirty_from, m0)
        self.chunks.append(record)
        self.ends.append(s1)
        self._alerts(record, s1)
        brand = np.asarray(record["brand_gmv"], dtype=np.float64)
        for j, mark in enumerate(MILESTONES):
            new = (brand >= mark) & (self.crossed[:, j] > SECONDS)
            self.crossed[new, j] = s1

    def _alert(self, second: int, kind: str, text: str) -> None:
        self.alerts.append(_Alert(second, kind, text))
        self.alert_seconds.append(second)

    def _alerts(self, record: dict[str, Any], s1: int) -> None:
        p = self.params
        for sku, wh in record.get("stockouts", []):
            self._alert(s1, "stockout", f"SKU {sku} out of stock at {self._wh_name(wh)}")
        more = int(record.get("stockouts_total", 0)) - len(record.get("stockouts", []))
        if more > 0:
            self._alert(s1, "stockout", f"{more} more SKUs out of stock at their warehouses")
        hours = np.asarray(record["backlog"], dtype=np.float64) / self.capacity
        above = hours > p.backlog_hours
        for w in np.flatnonzero(above & ~self._backlog_on):
            self._alert(s1, "backlog", f"backlog at {self.warehouses[w]['name']}: "
                                       f"{hours[w]:.1f} h of its outbound capacity "
                                       f"(above {p.backlog_hours:g} h)")
        self._backlog_on = above
        units = np.asarray(record["region_units"], dtype=np.float64)
        d24 = np.asarray(record["region_d24"], dtype=np.float64)
        share = np.divide(d24, units, out=np.ones_like(units), where=units > 0)
        behind = (units >= max(p.min_units, 1)) & (share < p.promise_share)
        for r in np.flatnonzero(behind & ~self._region_on):
            self._alert(s1, "promise", f"{self.regions[r]['name']} behind its promise: "
                                       f"{share[r]:.0%} of units within 24 h "
                                       f"(promise {p.promise_share:.0%})")
        self._region_on = behind

    def _wh_name(self, wh: str) -> str:
        for w in self.warehouses:
            if w["id"] == wh:
                return f"{w['name']} ({wh})"
        return wh

    # -- frames --------------------------------------------------------------------------

    @property
    def head(self) -> int:
        """The last second the records reach."""
        return self.ends[-1] if self.ends else 0

    def _cums(self) -> None:
        if self._dirty_from < MINUTES:
            np.cumsum(self.minute_orders, out=self.cum_orders[1:])
            np.cumsum(self.minute_gmv, out=self.cum_gmv[1:])
            self._dirty_from = MINUTES

    def _at(self, cum: np.ndarray, per_minute: np.ndarray, t: float) -> float:
        """A cumulative series at second ``t``, spread evenly within its minute."""
        t = min(max(t, 0.0), float(SECONDS))
        m = min(int(t // 60), MINUTES - 1)
        return float(cum[m] + per_minute[m] * (t - 60 * m) / 60.0)

    def frame(self, t: float, series_from: int = 0) -> dict[str, Any]:
        """What the page shows at second ``t`` of the day (the minute series from minute
        ``series_from`` on)."""
        self._cums()
        t = min(max(float(t), 0.0), float(SECONDS))
        i = bisect.bisect_right(self.ends, int(t)) - 1
        chunk = self.chunks[i] if i >= 0 else None
        m = min(int(t // 60), MINUTES - 1) if t < SECONDS else MINUTES - 1
        live_head = chunk is not None and i == len(self.chunks) - 1 and t >= self.head
        gmv = float(chunk["gmv"]) if live_head and chunk else \
            self._at(self.cum_gmv, self.minute_gmv, t)
        orders = float(chunk["orders"]) if live_head and chunk else \
            self._at(self.cum_orders, self.minute_orders, t)
        back = max(t - 60.0, 0.0)
        span = max(t - back, 1.0)
        gmv_ps = (self._at(self.cum_gmv, self.minute_gmv, t)
                  - self._at(self.cum_gmv, self.minute_gmv, back)) / span
        orders_ps = (self._at(self.cum_orders, self.minute_orders, t)
                     - self._at(self.cum_orders, self.minute_orders, back)) / span
        k = max(0, min(series_from, m))
        out: dict[str, Any] = {
            "day": self.day, "second": round(t, 1), "head": self.head,
            "finished": self.finished,
            "gmv": round(gmv, 2), "gmv_per_second": round(gmv_ps, 2),
            "orders": int(orders), "orders_per_second": round(orders_ps, 2),
            "expected_orders_per_second": round(float(self.expected[m]) / 60.0, 2),
            "expected_source": self.expected_source,
            "minute": m, "series_from": k,
            "gmv_ps": (self.minute_gmv[k:m + 1] / 60.0).round(1).tolist(),
            "orders_ps": (self.minute_orders[k:m + 1] / 60.0).round(2).tolist(),
        }
        if k == 0:
            out["expected_ps"] = (self.expected / 60.0).round(2).tolist()
        out.update(self._state(chunk, int(t)))
        return out

    def _state(self, chunk: dict[str, Any] | None, t: int) -> dict[str, Any]:
        n_prov = len(self.provinces)
        units = np.zeros(n_prov)
        d24 = np.zeros(n_prov)
        backlog = np.zeros(len(self.warehouses))
        brand = np.zeros(len(self.brands))
        if chunk is not None:
            on = self.region_province >= 0
            np.add.at(units, self.region_province[on],
                      np.asarray(chunk["region_units"], dtype=np.float64)[on])
            np.add.at(d24, self.region_province[on],
                      np.asarray(chunk["region_d24"], dtype=np.float64)[on])
            backlog = np.asarray(chunk["backlog"], dtype=np.float64)
            brand = np.asarray(chunk["brand_gmv"], dtype=np.float64)
        provinces = [[n, round(float(d / u), 4), int(u)] for n, u, d
                     in zip(self.provinces, units, d24, strict=True) if u > 0]
        hours = backlog / self.capacity
        wh_order = np.argsort(-hours, kind="stable")[:16]
        warehouses = [[self.warehouses[w]["name"], int(backlog[w]), int(self.capacity[w]),
                       round(float(hours[w]), 2)] for w in wh_order]
        marks = (self.crossed <= t).sum(axis=1)
        top = np.argsort(-brand, kind="stable")[:10]
        brands = [[int(r) + 1, self.brands[b]["name"], self.brands[b]["country"],
                   round(float(brand[b]), 2), int(marks[b]), int(self.crossed[b, -1]
                   if marks[b] == 2 else self.crossed[b, 0] if marks[b] == 1 else -1)]
                  for r, b in enumerate(top) if brand[b] > 0]
        n = bisect.bisect_right(self.alert_seconds, t)
        counts: dict[str, int] = {}
        for a in self.alerts[:n]:
            counts[a.kind] = counts.get(a.kind, 0) + 1
        return {
            "provinces": provinces, "off_map": self.off_map,
            "warehouses": warehouses, "backlog_hours": self.params.backlog_hours,
            "brands": brands,
            "above_100m": int((marks >= 1).sum()), "above_1b": int((marks >= 2).sum()),
            "alerts": [[a.second, a.kind, a.text] for a in reversed(self.alerts[max(0, n - 12):n])],
            "alert_counts": counts,
        }
