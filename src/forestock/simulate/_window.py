"""Rehearse an event window of many days: every day order by order, stock and backlogs
carried over midnight, replenishment arriving as the plan says.

Each day is the one-day rehearsal (:func:`simulate`) of that day's demand, starting
from the stock the day before left and behind the parcels its warehouses still held at
midnight (first in, first out: a day's orders queue behind them, so every order's
times are those of one queue running through the window). Before a day's orders, the
replenishment waves due that day are settled, in the plan's order:

1. **inbound** waves shipped that day (or before the window: on its first day) are
   set: each brings the position of its hub and every warehouse the hub replenishes
   (on hand and on the way) up to the plan's ``up_to``, at most the plan's ``units``;
2. inbound waves due that day arrive at their hubs;
3. **transfers** leaving that day are set alike: up to the warehouse's ``up_to``, at
   most the plan's units, what the hub holds of the SKU (shared by the warehouses in
   proportion to their asks) and the warehouse's room; they leave the hub at once;
4. transfers due that day arrive;
5. a hub then holding more than its storage sends the excess of the day's inbound
   waves back (it is not received).

So no wave ships more than its plan, and no warehouse holds more than its storage when
a day's orders begin.
Only one day's orders are in memory at a time (each day's own chunks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.simulate._check import OutcomeError, check_outcomes, scaled
from forestock.simulate._result import SimulateResult
from forestock.tables import IdIndex

if TYPE_CHECKING:
    from distributed import Client

    from forestock.simulate import SimulateParams, SimulateProblem

__all__ = ["DAY_COLUMNS", "RehearsalWindow", "WindowResult", "check_window", "day_outcomes",
           "day_seed", "simulate_window"]

log = logging.getLogger("forestock.simulate")

#: Columns of the per-day outcomes (the ``outcomes_day`` table), after ``date``.
DAY_COLUMNS = ("orders", "units", "gmv", "shipped", "unfilled", "delivered_24h",
               "delivered_48h", "delivered_72h", "stock_left", "inbound", "transfers",
               "backlog")


@dataclass(frozen=True)
class Waves:
    """Replenishment waves over dense codes, one entry per row of the plan's table, in
    the order they are settled (wave, then inbound before transfers)."""

    wave: np.ndarray  # int64 [row]
    inbound: np.ndarray  # bool [row]
    sku: np.ndarray  # int64 [row]
    source: np.ndarray  # int64 [row]: the hub sending a transfer; -1 for inbound
    dest: np.ndarray  # int64 [row]
    units: np.ndarray  # int64 [row]: the most it ships
    up_to: np.ndarray  # int64 [row]
    ship: np.ndarray  # int64 [row]: day index (before the window: negative)
    arrive: np.ndarray  # int64 [row]

    @classmethod
    def from_table(cls, table: pd.DataFrame, first: dt.date, skus: IdIndex,
                   warehouses: IdIndex) -> Waves:
        """The waves of a ``replenishment`` table for a window starting on ``first``."""
        t = table.sort_values(["wave", "kind", "sku_id", "warehouse_id"], kind="stable")
        day0 = np.datetime64(first, "D")
        try:
            sku = skus.codes(t["sku_id"], what="sku_id in replenishment").astype(np.int64)
            dest = warehouses.codes(t["warehouse_id"], what="warehouse_id in replenishment")
            inbound = (t["kind"] == "inbound").to_numpy()
            source = np.full(len(t), -1, dtype=np.int64)
            if (~inbound).any():
                source[~inbound] = warehouses.codes(t.loc[~inbound, "from_id"],
                                                    what="hub (from_id) in replenishment")
        except ValueError as err:
            raise ForestockError(str(err)) from None

        def day(col: str) -> np.ndarray:
            d = pd.to_datetime(t[col]).to_numpy().astype("datetime64[D]")
            return (d - day0).astype(np.int64)

        return cls(wave=t["wave"].to_numpy(np.int64), inbound=inbound, sku=sku, source=source,
                   dest=dest.astype(np.int64), units=t["units"].to_numpy(np.int64),
                   up_to=t["up_to"].to_numpy(np.int64), ship=day("ship_on"),
                   arrive=day("arrive_on"))

    def scaled(self, scale: float) -> Waves:
        """Quantities multiplied by ``scale`` (a rehearsal at that scale)."""
        return dataclasses.replace(self, units=scaled(self.units, scale),
                                   up_to=scaled(self.up_to, scale))

    def hub_of(self, n_wh: int) -> np.ndarray:
        """Each warehouse's hub: the one its transfers come from, else itself."""
        hub = np.arange(n_wh, dtype=np.int64)
        moved = ~self.inbound
        hub[self.dest[moved]] = self.source[moved]
        return hub


@dataclass(frozen=True)
class RehearsalWindow:
    """An event window to rehearse: one problem per day (each with that day's demand and
    the plan's stock before the event), the warehouses' storage and the plan's waves.

    Build it with :meth:`from_tables`.
    """

    problems: tuple[SimulateProblem, ...]  # one per day, in order
    storage: np.ndarray  # int64 [warehouse]
    waves: Waves | None = None

    @property
    def days(self) -> list[dt.date]:
        """The window's days."""
        return [p.day for p in self.problems]

    @classmethod
    def from_tables(cls, days: Sequence[dt.date], demand: pd.DataFrame, plan: pd.DataFrame,
                    warehouses: pd.DataFrame, lanes: pd.DataFrame, skus: pd.DataFrame,
                    regions: pd.DataFrame, replenishment: pd.DataFrame | None = None
                    ) -> RehearsalWindow:
        """Each of ``days`` with its demand (sales-shaped rows of that ``date``, or orders
        whose ``time`` falls on it), the plan's stock before the window, and its waves.

        Raises
        ------
        ForestockError
            A day without demand, unknown ids, and what
            :meth:`SimulateProblem.from_tables` raises.
        """
        from forestock.simulate._problem import SimulateProblem

        if not days:
            raise ValueError("a window has at least one day")
        days = sorted(days)
        orders = "time" in demand.columns
        when = pd.to_datetime(demand["time" if orders else "date"]).dt.normalize()
        by_day = {pd.Timestamp(d).date(): part for d, part in demand.groupby(when.to_numpy())}
        missing = [d for d in days if d not in by_day]
        if missing:
            what = "orders" if orders else "sales"
            raise ForestockError(
                f"the demand has no {what} on {', '.join(str(d) for d in missing[:3])}"
                f"{' and more' if len(missing) > 3 else ''}: the window's days "
                f"({days[0]} to {days[-1]}) are rehearsed one by one")
        problems = tuple(SimulateProblem.from_tables(d, by_day[d], plan, warehouses, lanes,
                                                     skus, regions) for d in days)
        first = problems[0]
        waves = None
        if replenishment is not None and not replenishment.empty:
            waves = Waves.from_table(replenishment, days[0], first.skus, first.warehouses)
        return cls(problems=problems,
                   storage=warehouses["storage_units"].to_numpy(dtype=np.int64),
                   waves=waves)


@dataclass(frozen=True)
class WindowResult(SimulateResult):
    """A rehearsed window: a :class:`SimulateResult` over all its days (``day`` the
    first, ``last_day`` the last), with each day's outcomes.

    ``tables`` holds the outcome tables summed over the days (per region and hour of
    the day, per second of the day, per brand, why not within 24 h), the warehouses'
    queues and flows by hour since the window's first midnight, the stock placed before
    it and left at its end, ``outcomes_day`` (per date: :data:`DAY_COLUMNS`) and, with
    waves, ``outcomes_replenishment`` (per wave row: the plan's units, those shipped and
    those received). The headline figures are the window's (the peak: its busiest
    day's); ``figures`` adds ``days``, ``placed``, ``inbound`` and ``transfers``
    (units received), ``stock_left``, ``in_transit`` (units between a hub and a
    warehouse at the end) and ``max_stock_share`` (the most any warehouse held when a
    day began, as a share of its storage).
    """

    last_day: dt.date | None = None

    @property
    def by_day(self) -> pd.DataFrame:
        """Each day's outcomes (the ``outcomes_day`` table)."""
        return self.tables["outcomes_day"]


def day_outcomes(result: SimulateResult, inbound: int = 0, transfers: int = 0
                 ) -> dict[str, object]:
    """A rehearsed day's row of ``outcomes_day`` (``inbound`` and ``transfers``: the units
    that arrived before its orders)."""
    reg = result.tables["outcomes_region"]
    wh = result.tables["outcomes_warehouse"]
    return {
        "date": pd.Timestamp(result.day), "orders": result.orders, "units": result.units,
        "gmv": result.gmv, "shipped": int(reg["shipped"].sum()),
        "unfilled": int(reg["unfilled"].sum()),
        "delivered_24h": int(reg["delivered_24h"].sum()),
        "delivered_48h": int(reg["delivered_48h"].sum()),
        "delivered_72h": round(result.figures["share_72h"] * result.units),
        "stock_left": int(result.stock_left.sum()), "inbound": inbound,
        "transfers": transfers, "backlog": int(wh.loc[wh["hour"] == 23, "backlog"].sum()),
    }


def day_seed(seed: int, day: int) -> int:
    """The seed of the window's ``day``-th day: ``seed`` itself for the first, so that a
    one-day window is the one-day rehearsal; a different stream for every other day."""
    if day == 0:
        return seed
    state = np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, day]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


class _Stock:
    """Stock on hand and on the way during the window, and the waves' settlement."""

    def __init__(self, stock: np.ndarray, storage: np.ndarray, waves: Waves | None) -> None:
        self.on_hand = stock.astype(np.int64).copy()
        self.storage = storage
        self.waves = waves
        n = 0 if waves is None else waves.wave.size
        self.shipped = np.zeros(n, dtype=np.int64)
        self.received = np.zeros(n, dtype=np.int64)
        self.decided = np.zeros(n, dtype=bool)
        self.arrived = np.zeros(n, dtype=bool)
        n_wh = stock.shape[1]
        self.hub = np.arange(n_wh) if waves is None else waves.hub_of(n_wh)
        self.coming = np.zeros_like(self.on_hand)  # [sku, warehouse]: on the way

    def settle(self, day: int) -> tuple[int, int]:
        """The waves due before day ``day``'s orders (see the module's rules); the units
        received from inbound waves and by transfers."""
        w = self.waves
        if w is None:
            return 0, 0
        landed = []
        for inbound in (True, False):
            pending = (w.inbound == inbound) & ~self.decided & (w.ship <= day)
            for wave in np.unique(w.wave[pending]):
                self._decide(np.flatnonzero(pending & (w.wave == wave)), inbound)
            due = np.flatnonzero((w.inbound == inbound) & self.decided & ~self.arrived
                                 & (w.arrive <= day))
            np.add.at(self.on_hand, (w.sku[due], w.dest[due]), self.shipped[due])
            np.add.at(self.coming, (w.sku[due], w.dest[due]), -self.shipped[due])
            self.arrived[due] = True
            self.received[due] = self.shipped[due]
            landed.append(due)
        self._refuse(landed[0])
        return int(self.received[landed[0]].sum()), int(self.received[landed[1]].sum())

    def moving(self) -> int:
        """Units on the way from a hub to a warehouse (left the hub, not arrived)."""
        w = self.waves
        if w is None:
            return 0
        return int(self.shipped[~w.inbound & self.decided & ~self.arrived].sum())

    def _refuse(self, landed: np.ndarray) -> None:
        """A hub holding more than its storage once its transfers have left sends the
        excess of the day's inbound waves back (what they brought, SKU by SKU in proportion,
        rounded up)."""
        w = self.waves
        assert w is not None
        over = self.on_hand.sum(axis=0) - self.storage
        for h in np.flatnonzero(over > 0):
            rows = landed[w.dest[landed] == h]
            if rows.size == 0:
                continue
            avail = np.minimum(self.received[rows], self.on_hand[w.sku[rows], h])
            total = int(avail.sum())
            if total <= 0:
                continue
            back = np.minimum(avail, np.ceil(avail * min(int(over[h]), total) / total)
                              ).astype(np.int64)
            self.received[rows] -= back
            np.add.at(self.on_hand, (w.sku[rows], h), -back)

    def _decide(self, rows: np.ndarray, inbound: bool) -> None:
        w = self.waves
        assert w is not None
        s, dest = w.sku[rows], w.dest[rows]
        held = self.on_hand + self.coming
        n_s, n_wh = held.shape
        if inbound:  # the hub and every warehouse it replenishes
            group = np.zeros((n_wh, n_s), dtype=np.int64)
            np.add.at(group, self.hub, held.T)
            position = group[dest, s]
        else:
            position = held[s, dest]
        want = np.clip(w.up_to[rows] - position, 0, w.units[rows])
        if not inbound:
            # the hub's stock of the SKU shared in proportion to the asks, then the
            # warehouse's room (storage less what it holds and has coming)
            src = w.source[rows]
            key = s * n_wh + src
            uniq, inv = np.unique(key, return_inverse=True)
            asked = np.bincount(inv, weights=want).astype(np.int64)
            want = _share(want, inv, asked, self.on_hand[uniq // n_wh, uniq % n_wh])
            room = np.maximum(self.storage - held.sum(axis=0), 0)
            uniq, inv = np.unique(dest, return_inverse=True)
            asked = np.bincount(inv, weights=want, minlength=uniq.size).astype(np.int64)
            want = _share(want, inv, asked, room[uniq])
        self.shipped[rows] = want
        self.decided[rows] = True
        np.add.at(self.coming, (s, dest), want)
        if not inbound:
            np.add.at(self.on_hand, (s, w.source[rows]), -want)


def _share(want: np.ndarray, group: np.ndarray, asked: np.ndarray,
           have: np.ndarray) -> np.ndarray:
    """``want`` cut down to ``have`` per group where the group asks for more: each its
    share in proportion (whole units, rounded down)."""
    over = asked > have
    if not over.any():
        return want
    factor = np.where(over, have / np.maximum(asked, 1), 1.0)[group]
    return np.where(over[group], np.floor(want * factor), want).astype(np.int64)


def simulate_window(window: RehearsalWindow, params: SimulateParams | None = None,
                    seed: int = 0, callbacks: Callbacks | None = None, *,
                    cluster: Client | None = None) -> WindowResult:
    """Rehearse every day of ``window`` (see the module's rules).

    ``params`` are the one-day rehearsal's (:class:`SimulateParams`): ``scale``
    multiplies every day's demand, the stock, the waves, storage and capacity alike;
    a one-day window without waves is :func:`simulate` of that day. Each day's
    outcomes are checked (:func:`check_outcomes`) as it ends. Days are not
    checkpointed. With a Dask ``cluster``, each day's shards run on its workers
    (see :func:`simulate`), with the same tables.

    Raises
    ------
    OutcomeError
        When a day's outcomes break a rule.
    """
    from forestock.simulate._params import SimulateParams
    from forestock.simulate._run import simulate

    q = params if params is not None else SimulateParams()
    cb = callbacks if callbacks is not None else NO_CALLBACKS
    scale = q.scale
    day_q = q.replace(scale=1.0)
    problems = window.problems
    first = problems[0]
    waves = None if window.waves is None else window.waves.scaled(scale)
    stock = _Stock(scaled(first.stock, scale), scaled(window.storage, scale), waves)
    placed = stock.on_hand.copy()
    capacity = scaled(first.capacity, scale)
    backlog = np.zeros(capacity.size, dtype=np.int64)
    t0 = time.perf_counter()
    outcomes = _WindowOutcomes(len(problems))
    rows = []
    fullest = 0.0
    cb.on_start("window", len(problems))
    for d, p in enumerate(problems):
        inbound, transfers = stock.settle(d)
        held = stock.on_hand.sum(axis=0)
        fullest = max(fullest, float(np.max(np.divide(
            held, stock.storage, out=np.zeros(held.size), where=stock.storage > 0))))
        units = p.cell_units if p.orders_cell is not None else scaled(p.cell_units, scale)
        if p.orders_cell is not None and scale != 1.0:
            raise ForestockError("scale multiplies generated demand; a table of orders is "
                                 "rehearsed as given (use scale 1)")
        day_p = p.replace(stock=stock.on_hand.copy(), capacity=capacity, cell_units=units,
                          backlog=backlog)
        r = simulate(day_p, day_q, day_seed(seed, d), cb, cluster=cluster)
        check_outcomes(r, day_p)
        stock.on_hand = r.stock_left.astype(np.int64).copy()
        wh = r.tables["outcomes_warehouse"]
        backlog = wh.loc[wh["hour"] == 23, "backlog"].to_numpy(dtype=np.int64)
        outcomes.add(r.tables)
        rows.append({
            **day_outcomes(r, inbound, transfers),
            "_peak": r.peak_orders_per_second, "_peak_second": r.peak_second,
            "_factory": int(r.figures["factory_units"]),
            "_hours": int(r.figures["backlog_hours"]), "_workers": int(r.figures["workers"]),
            "_moved": int(r.figures["bytes_moved"]),
        })
        cb.on_step("window", 1)
    cb.on_end("window")
    elapsed = time.perf_counter() - t0
    days = pd.DataFrame(rows)
    tables = outcomes.tables(problems[0], placed, stock.on_hand)
    tables["outcomes_day"] = days[["date", *DAY_COLUMNS]].reset_index(drop=True)
    if waves is not None and window.waves is not None:
        tables["outcomes_replenishment"] = _wave_table(window, stock)
    peak = int(days["_peak"].idxmax())
    total = days[list(DAY_COLUMNS)].sum()
    n = int(total["units"])

    def share(x: float) -> float:
        return float(x / n) if n else 0.0

    last_hours = int(days["_hours"].iloc[-1])
    result = WindowResult(
        day=problems[0].day, last_day=problems[-1].day, seed=seed, tables=tables,
        stock_left=stock.on_hand, orders=int(total["orders"]), units=n,
        gmv=float(days["gmv"].sum()), peak_orders_per_second=int(days["_peak"].max()),
        peak_second=int(days["_peak_second"].iloc[peak]),
        share_24h=share(total["delivered_24h"]), share_48h=share(total["delivered_48h"]),
        unfilled_share=share(total["unfilled"]),
        figures={
            "share_72h": share(total["delivered_72h"]),
            "factory_units": float(days["_factory"].sum()),
            "backlog_hours": float(24 * (len(problems) - 1) + last_hours),
            "scale": float(scale), "workers": float(days["_workers"].max()),
            "seconds": elapsed, "orders_per_second": int(total["orders"]) / max(elapsed, 1e-9),
            "resumed_at_second": 0.0, "days": float(len(problems)),
            "placed": float(placed.sum()), "inbound": float(total["inbound"]),
            "transfers": float(total["transfers"]), "stock_left": float(stock.on_hand.sum()),
            "in_transit": float(stock.moving()),
            "max_stock_share": fullest, "bytes_moved": float(days["_moved"].sum()),
        })
    log.info("rehearsed %s to %s: %d units, %.1f%% within 24 h, %d placed and %d received "
             "by inbound waves, %d left, %.1f s", result.day, result.last_day, n,
             100 * result.share_24h, placed.sum(), total["inbound"], stock.on_hand.sum(),
             elapsed)
    return result


class _WindowOutcomes:
    """The window's outcome tables, added up as each day ends: the tables per hour of the
    day, per second and per brand are summed over the days as they come (their size does
    not grow with the days), the warehouses' queues and flows are kept per hour since the
    window's first midnight (each day's own hours 0-23, the last day's drain after)."""

    _SUMMED: ClassVar[dict[str, tuple[str, ...]]] = {
        "outcomes_region": ("region_id", "hour"), "outcomes_second": ("second",),
        "outcomes_brand": ("brand_id",), "outcomes_reason": ("region_id", "hour")}

    def __init__(self, n_days: int) -> None:
        self.n_days = n_days
        self.day = 0
        self.sums: dict[str, pd.DataFrame] = {}
        self.queues: list[pd.DataFrame] = []
        self.flows: list[pd.DataFrame] = []

    def add(self, tables: dict[str, pd.DataFrame]) -> None:
        """Add the next day's outcome tables."""
        d = self.day
        for name, keys in self._SUMMED.items():
            if d == 0:
                self.sums[name] = tables[name]
                continue
            both = pd.concat([self.sums[name], tables[name]], ignore_index=True)
            group = both.groupby(list(keys), sort=False, as_index=False)
            if name == "outcomes_reason":
                self.sums[name] = group.agg(
                    warehouse_id=("warehouse_id", "first"), stock=("stock", "sum"),
                    backlog=("backlog", "sum"), transit=("transit", "sum"))
            else:
                self.sums[name] = group.sum(numeric_only=True)
        wh = tables["outcomes_warehouse"]
        if d < self.n_days - 1:
            wh = wh[wh["hour"] < 24]
        self.queues.append(wh.assign(hour=wh["hour"] + 24 * d))
        fl = tables["outcomes_flow"]
        self.flows.append(fl.assign(hour=fl["hour"] + 24 * d))
        self.day += 1

    def tables(self, p: SimulateProblem, placed: np.ndarray, left: np.ndarray
               ) -> dict[str, pd.DataFrame]:
        """The window's outcome tables, with the stock before it and at its end."""
        brand = self.sums["outcomes_brand"]
        brand = brand.assign(_id=brand["brand_id"]).sort_values(
            ["gmv", "_id"], ascending=[False, True], kind="stable").drop(columns="_id")
        wh = pd.concat(self.queues, ignore_index=True)
        wh = wh.sort_values(["warehouse_id", "hour"], kind="stable", ignore_index=True)
        flows = pd.concat(self.flows, ignore_index=True)
        flows = flows.groupby(["warehouse_id", "hour", "region_id"], sort=True,
                              as_index=False)["parcels"].sum()
        s_i, w_i = np.nonzero((placed > 0) | (left > 0))
        stock = pd.DataFrame({"sku_id": p.skus.ids[s_i], "warehouse_id": p.warehouses.ids[w_i],
                              "placed": placed[s_i, w_i], "left": left[s_i, w_i]})
        return {"outcomes_region": self.sums["outcomes_region"].reset_index(drop=True),
                "outcomes_warehouse": wh,
                "outcomes_second": self.sums["outcomes_second"].reset_index(drop=True),
                "outcomes_brand": brand.reset_index(drop=True), "outcomes_flow": flows,
                "outcomes_reason": self.sums["outcomes_reason"].reset_index(drop=True),
                "outcomes_stock": stock}


def _wave_table(window: RehearsalWindow, stock: _Stock) -> pd.DataFrame:
    w = stock.waves
    assert w is not None
    p = window.problems[0]
    return pd.DataFrame({
        "wave": w.wave, "kind": np.where(w.inbound, "inbound", "transfer").astype(object),
        "sku_id": p.skus.ids[w.sku], "warehouse_id": p.warehouses.ids[w.dest],
        "planned": w.units, "shipped": stock.shipped, "received": stock.received})


def check_window(result: WindowResult, window: RehearsalWindow) -> None:
    """Raise :class:`OutcomeError` unless the window's outcomes keep its rules.

    Every unit of every day is shipped or unfilled; the days add up to the window's
    outcome tables; stock is never negative, and placed plus received less shipped from
    warehouses is what is left; no wave shipped more than its plan; no warehouse held
    more than its storage (at the window's scale).
    """
    days = result.tables["outcomes_day"]
    if (days["units"] != days["shipped"] + days["unfilled"]).any():
        raise OutcomeError("outcomes_day: units != shipped + unfilled on some day")
    reg = result.tables["outcomes_region"]
    for col in ("orders", "units", "shipped", "unfilled", "delivered_24h", "delivered_48h"):
        if int(days[col].sum()) != int(reg[col].sum()):
            raise OutcomeError(f"outcomes_day {col} do not add up to outcomes_region's")
    if (result.stock_left < 0).any() or (days["stock_left"] < 0).any():
        raise OutcomeError("stock left is negative somewhere")
    f = result.figures
    from_wh = int(reg["shipped"].sum()) - int(f["factory_units"])
    if (int(f["placed"] + f["inbound"]) - from_wh
            != int(result.stock_left.sum() + f["in_transit"])):
        raise OutcomeError("stock placed + received by inbound waves - shipped from warehouses "
                           "!= stock left and on the way")
    waves = result.tables.get("outcomes_replenishment")
    if waves is not None and ((waves["shipped"] > waves["planned"])
                              | (waves["received"] > waves["shipped"])).any():
        raise OutcomeError("a wave shipped more than its plan, or was received beyond what "
                           "it shipped")
    if f["max_stock_share"] > 1.0 + 1e-12 and float(f["scale"]) == 1.0:
        raise OutcomeError("a warehouse held more than its storage")
    del window
