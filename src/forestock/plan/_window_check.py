"""An independent check of a window plan's replenishment waves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestock.plan._result import PlanError

__all__ = ["validate_replenishment"]

_NEED = ("wave", "kind", "sku_id", "from_id", "warehouse_id", "units", "up_to", "ship_on",
         "arrive_on")


def validate_replenishment(replenishment: pd.DataFrame, warehouses: pd.DataFrame) -> None:
    """Check replenishment waves independently of the planner that made them.

    Every row is a wave of 1 or more, of ``inbound`` (into a hub: an ``rdc``, or any
    warehouse when there is none) or ``transfer`` kind (from a hub to another
    warehouse); units and ``up_to`` are whole numbers, ``units`` at least 1; a wave
    arrives on or after the day it ships; one row per wave, kind, SKU and destination;
    the units arriving at a warehouse on one day are at most its ``storage_units`` (at a
    hub, with those of the warehouses it sends transfers to: what they get leaves the day
    it arrives), and a hub sends on no more of a SKU in a wave than its inbound wave
    brings plus its storage.

    Raises
    ------
    PlanError
        Naming the row and the rule broken.
    """
    r = replenishment
    missing = [c for c in _NEED if c not in r.columns]
    if missing:
        raise PlanError(f"replenishment lacks the column(s) {', '.join(missing)}")
    if r.empty:
        return

    def fail(mask: np.ndarray, what: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise PlanError(f"replenishment row {i + 1} (wave {r['wave'].iloc[i]}, "
                            f"{r['kind'].iloc[i]} of {r['sku_id'].iloc[i]} to "
                            f"{r['warehouse_id'].iloc[i]}): {what}")

    for col, low in (("wave", 1), ("units", 1), ("up_to", 0)):
        v = pd.to_numeric(r[col], errors="coerce").to_numpy(dtype=float)
        fail(~np.isfinite(v) | (v != np.round(v)), f"{col} is not a whole number")
        fail(v < low, f"{col} is below {low}")
    kind = r["kind"].to_numpy(dtype=object)
    fail(~np.isin(kind, ["inbound", "transfer"]), "kind is neither inbound nor transfer")
    ship, arrive = pd.to_datetime(r["ship_on"]), pd.to_datetime(r["arrive_on"])
    fail((arrive < ship).to_numpy(), "it arrives before it ships")
    fail(r.duplicated(["wave", "kind", "sku_id", "warehouse_id"]).to_numpy(), "a second row")
    wh = warehouses.set_index("warehouse_id")
    known = r["warehouse_id"].isin(wh.index).to_numpy()
    fail(~known, "an unknown warehouse")
    hubs = set(wh.index[wh["tier"] == "rdc"]) or set(wh.index)
    dest_hub = r["warehouse_id"].isin(hubs).to_numpy()
    inbound = kind == "inbound"
    fail(inbound & ~dest_hub, "an inbound wave goes to a hub")
    transfer = ~inbound
    from_hub = r["from_id"].isin(hubs).to_numpy()
    fail(transfer & ~from_hub, "a transfer leaves a hub")
    fail(transfer & (r["from_id"] == r["warehouse_id"]).to_numpy(),
         "a transfer goes to another warehouse")
    arriving = r.groupby([r["warehouse_id"], arrive])["units"].transform("sum").to_numpy()
    room = wh["storage_units"].reindex(r["warehouse_id"]).to_numpy(dtype=float)
    # a hub sends on the day they arrive what its warehouses get: its group's room
    spokes = r[transfer].drop_duplicates("warehouse_id")
    onward = (wh["storage_units"].reindex(spokes["warehouse_id"]).groupby(
        spokes["from_id"].to_numpy()).sum())
    room = room + np.where(inbound, onward.reindex(r["warehouse_id"]).fillna(0).to_numpy(), 0)
    fail(arriving > room, "the units arriving that day exceed the storage of the warehouse "
                          "(a hub's: and of the warehouses it sends on to)")
    out = (r[transfer].groupby(["wave", "from_id", "sku_id"])["units"].sum()
           .rename_axis(["wave", "warehouse_id", "sku_id"]))
    into = r[inbound].groupby(["wave", "warehouse_id", "sku_id"])["units"].sum()
    over = out.sub(into.reindex(out.index, fill_value=0), fill_value=0)
    held = wh["storage_units"].reindex(over.index.get_level_values("warehouse_id")).to_numpy()
    bad = over.to_numpy() > held
    if bad.any():
        wave, hub, sku = over.index[int(np.flatnonzero(bad)[0])]
        raise PlanError(f"wave {wave}: hub {hub} sends on {int(out[wave, hub, sku]):,} units "
                        f"of {sku}, more than its inbound wave and its storage can hold")
