"""Rehearsals side by side: a one-day event against a multi-day event of the same network.

Each rehearsal is read from its ``outcomes_day`` (every rehearsal writes one row per day
it rehearsed: one for a day, one per day of a window), its warehouses' hourly queues
(``outcomes_warehouse``) and stock (``outcomes_stock``), and the daily sales of its
history (and truth) around it. :func:`rehearsal_comparison` puts them side by side: units
per day, lift over an ordinary day, the peak hour's load on the warehouses, the share
within 24 h, stock placed, replenished and left; and each rehearsal's days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.events import normalise_calendar, occurrences
from forestock.insights._compute import ordinary_level

if TYPE_CHECKING:
    from forestock.workspace import Workspace

__all__ = ["ORDINARY_DAYS", "Rehearsal", "daily_units", "event_of_days",
           "rehearsal_comparison"]

#: Days before an event whose event-free days are its ordinary days (their mean: the lift's base).
ORDINARY_DAYS = 28


def event_of_days(calendar: pd.DataFrame, start: dt.date, end: dt.date) -> str:
    """The calendar's name for the days ``start`` to ``end``: the event with an occurrence
    on exactly those days (the first by name if several), else the first event on them (by
    date, then name), else ``"custom"``."""
    cal = normalise_calendar(calendar)
    day = cal["date"].dt.date
    on = cal[((day >= start) & (day <= end)).to_numpy()].sort_values(["date", "event"],
                                                                       kind="stable")
    for name in sorted(pd.unique(on["event"])):
        if any(w.start == start and w.end == end for w in occurrences(cal, name)):
            return str(name)
    return str(on["event"].iloc[0]) if len(on) else "custom"


def daily_units(sales: pd.DataFrame) -> pd.Series:
    """Units sold per date (a ``history``-shaped table, or several concatenated), by date."""
    days = pd.to_datetime(sales["date"]).to_numpy()
    out = pd.Series(sales["units"].to_numpy(dtype=float)).groupby(days).sum()
    out.index = pd.DatetimeIndex(out.index)
    return out.sort_index()


@dataclass(frozen=True)
class Rehearsal:
    """One rehearsal, as the comparison reads it.

    Build it with :meth:`from_tables` (tables in memory) or :meth:`from_workspace`.

    Attributes
    ----------
    label
        Where it comes from (a workspace's folder, or a name).
    event
        The calendar's name for the rehearsed days.
    days
        Its ``outcomes_day`` (one row per day rehearsed), by date.
    ordinary_per_day
        Units of an ordinary day before it: the mean of the event-free days among the
        :data:`ORDINARY_DAYS` before its first day (history and truth), times the
        rehearsal's scale; NaN where unknown.
    skus
        SKUs in its catalogue (0 when unknown).
    placed
        Units placed before its first day (``outcomes_stock``); NaN when unknown.
    load
        Per hour since its first midnight: parcels routed to the warehouses
        (``picked``) over their outbound capacity per hour, the network's
        (``network``) and the most loaded warehouse's (``warehouse``); empty when
        unknown.
    scale, source
        The rehearsal's scale and demand source (as its notes say).
    """

    label: str
    event: str
    days: pd.DataFrame
    ordinary_per_day: float
    skus: int
    placed: float
    load: pd.DataFrame
    scale: float = 1.0
    source: str = "truth"

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame],
                    notes: Mapping[str, Mapping[str, object]] | None = None,
                    label: str = "rehearsal", daily: pd.Series | None = None
                    ) -> Rehearsal | None:
        """The rehearsal held by ``tables`` (``outcomes_day``; ``outcomes_warehouse`` and
        ``warehouses``, ``outcomes_stock``, ``calendar``, ``skus``, ``history`` and
        ``truth`` add their parts), or None without ``outcomes_day``. ``daily`` is the
        units sold per date if already summed (:func:`daily_units` of history and
        truth)."""
        days = tables.get("outcomes_day")
        if days is None or days.empty:
            return None
        days = days.sort_values("date", kind="stable").reset_index(drop=True)
        sim = (notes or {}).get("simulate", {})
        noted = sim.get("scale")
        scale = float(noted) if isinstance(noted, float | int) else 1.0
        source = str(sim.get("source", "truth"))
        first = pd.Timestamp(days["date"].iloc[0]).date()
        last = pd.Timestamp(days["date"].iloc[-1]).date()
        cal = tables.get("calendar")
        event = event_of_days(cal, first, last) if cal is not None else "custom"
        busy = set(normalise_calendar(cal)["date"]) if cal is not None else set()
        if daily is None:
            sales = [daily_units(tables[n]) for n in ("history", "truth")
                     if tables.get(n) is not None]
            # a date in both (a truth re-stating the history's last days) counted once
            daily = pd.concat(sales).groupby(level=0).max() if sales else None
        stock = tables.get("outcomes_stock")
        placed = float(stock["placed"].sum()) if stock is not None else float("nan")
        skus = tables.get("skus")
        return cls(label=label, event=event, days=days,
                   ordinary_per_day=scale * (
                       ordinary_level(daily, busy, pd.Timestamp(first), ORDINARY_DAYS)
                       if daily is not None and len(daily) else float("nan")),
                   skus=0 if skus is None else len(skus), placed=placed,
                   load=_load(tables.get("outcomes_warehouse"), tables.get("warehouses"),
                              scale),
                   scale=scale, source=source)

    @classmethod
    def from_workspace(cls, ws: Workspace, label: str | None = None) -> Rehearsal | None:
        """The rehearsal a workspace holds (its last), or None if it holds none."""
        ws.check_exists()
        if not ws.has("outcomes_day"):
            return None
        names = ("outcomes_day", "outcomes_warehouse", "warehouses", "outcomes_stock",
                 "calendar", "skus")
        tables = {n: ws.read(n) for n in names if ws.has(n)}
        sales = [f"SELECT date, sum(units) AS units FROM {n} GROUP BY 1"
                 for n in ("history", "truth") if ws.has(n)]
        daily = None
        if sales:
            per_day = ws.sql(f"SELECT date, max(units) AS units FROM ({' UNION ALL '.join(sales)})"
                             " GROUP BY 1 ORDER BY 1")
            daily = daily_units(per_day)
        return cls.from_tables(tables, ws.notes(), label or str(ws.root), daily)

    def summary(self) -> dict[str, object]:
        """The rehearsal's row of ``insight_rehearsals``."""
        d = self.days
        n = len(d)
        units = float(d["units"].sum())
        ordinary = self.ordinary_per_day
        per_day = units / n

        def over(x: float) -> float:
            return x / ordinary if ordinary > 0 else float("nan")

        def share(x: float) -> float:
            return x / units if units > 0 else float("nan")

        replenished = float(d["inbound"].sum())
        left = float(d["stock_left"].iloc[-1])
        held = self.placed + replenished
        return {
            "rehearsal": self.label, "event": self.event,
            "start": pd.Timestamp(d["date"].iloc[0]), "end": pd.Timestamp(d["date"].iloc[-1]),
            "days": n, "skus": self.skus, "source": self.source, "scale": self.scale,
            "units": units, "units_per_day": per_day,
            "busiest_day_units": float(d["units"].max()), "ordinary_per_day": ordinary,
            "lift": over(per_day), "busiest_day_lift": over(float(d["units"].max())),
            "peak_hour_load": float(self.load["network"].max()) if len(self.load)
            else float("nan"),
            "peak_warehouse_load": float(self.load["warehouse"].max()) if len(self.load)
            else float("nan"),
            "share_24h": share(float(d["delivered_24h"].sum())),
            "share_48h": share(float(d["delivered_48h"].sum())),
            "unfilled_share": share(float(d["unfilled"].sum())),
            "placed": self.placed, "replenished": replenished, "stock_left": left,
            "stock_left_share": left / held if held > 0 else float("nan"),
        }

    def by_day(self) -> pd.DataFrame:
        """The rehearsal's rows of ``insight_rehearsal_days``."""
        d = self.days
        units = d["units"].to_numpy(dtype=float)
        ordinary = self.ordinary_per_day
        load = self.load
        day_load = (load.groupby(load["hour"] // 24)["network"].max()
                    .reindex(range(len(d))).to_numpy() if len(load)
                    else np.full(len(d), np.nan))
        return pd.DataFrame({
            "rehearsal": self.label, "event": self.event,
            "date": pd.to_datetime(d["date"]).to_numpy(),
            "day": np.arange(1, len(d) + 1, dtype=np.int64),
            "units": units,
            "lift": units / ordinary if ordinary > 0 else np.full(len(d), np.nan),
            "peak_hour_load": day_load,
            "share_24h": np.divide(d["delivered_24h"].to_numpy(dtype=float), units,
                                   out=np.full(len(d), np.nan), where=units > 0),
            "unfilled": d["unfilled"].to_numpy(dtype=np.int64),
            "stock_left": d["stock_left"].to_numpy(dtype=np.int64),
            "inbound": d["inbound"].to_numpy(dtype=np.int64),
            "transfers": d["transfers"].to_numpy(dtype=np.int64),
            "backlog": d["backlog"].to_numpy(dtype=np.int64),
        })


def _load(queues: pd.DataFrame | None, warehouses: pd.DataFrame | None, scale: float
          ) -> pd.DataFrame:
    """Per hour since the first midnight: parcels routed to the warehouses over their
    outbound capacity per hour (at the rehearsal's ``scale``), the network's and the most
    loaded warehouse's."""
    if queues is None or warehouses is None or queues.empty:
        return pd.DataFrame({"hour": pd.Series(dtype="int64"),
                             "network": pd.Series(dtype=float),
                             "warehouse": pd.Series(dtype=float)})
    cap = (warehouses.set_index(warehouses["warehouse_id"].astype(str))["outbound_per_hour"]
           .astype(float) * scale)
    q = queues.assign(warehouse_id=queues["warehouse_id"].astype(str))
    q = q.assign(cap=q["warehouse_id"].map(cap).to_numpy(dtype=float))
    q = q.assign(ratio=np.divide(q["picked"].to_numpy(dtype=float), q["cap"].to_numpy(),
                                 out=np.full(len(q), np.nan), where=q["cap"].to_numpy() > 0))
    by_hour = q.groupby("hour").agg(picked=("picked", "sum"), warehouse=("ratio", "max"))
    total = float(cap.sum())
    by_hour["network"] = by_hour["picked"] / total if total > 0 else np.nan
    return by_hour.reset_index()[["hour", "network", "warehouse"]]


def rehearsal_comparison(rehearsals: Sequence[Rehearsal]
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``insight_rehearsals`` (one row per rehearsal: see :meth:`Rehearsal.summary`) and
    ``insight_rehearsal_days`` (one row per day of each), shortest event first; a label
    given twice is kept once (the first)."""
    seen: dict[str, Rehearsal] = {}
    for r in rehearsals:
        seen.setdefault(r.label, r)
    order = sorted(seen.values(), key=lambda r: (len(r.days), r.label))
    summary = pd.DataFrame([r.summary() for r in order])
    days = pd.concat([r.by_day() for r in order], ignore_index=True)
    return summary, days
