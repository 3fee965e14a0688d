"""An independent check of a rehearsal's outcome tables: conservation, queues, stock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.errors import ForestockError

if TYPE_CHECKING:
    from forestock.simulate._problem import SimulateProblem
    from forestock.simulate._result import SimulateResult

__all__ = ["OutcomeError", "check_outcomes", "scaled"]


def scaled(x: np.ndarray, scale: float) -> np.ndarray:
    """Whole quantities multiplied by ``scale``, rounded half up."""
    if scale == 1.0:
        return np.asarray(x, dtype=np.int64).copy()
    return np.floor(np.asarray(x, dtype=np.float64) * scale + 0.5).astype(np.int64)


class OutcomeError(ForestockError):
    """A rehearsal's outcomes break an invariant (a bug, or tables edited by hand)."""


def _fail(table: str, what: str, rows: pd.DataFrame) -> None:
    raise OutcomeError(f"{table}: {what} (first offending row: {rows.iloc[0].to_dict()})")


def check_outcomes(result: SimulateResult, problem: SimulateProblem | None = None) -> None:
    """Raise :class:`OutcomeError` unless the outcome tables keep the rules.

    Every unit ordered is shipped or unfilled; every shipped unit is delivered
    within 48 h or late, and within 24 h counts within 48 h; stock left is
    never negative (and, given ``problem``, the stock used equals the units
    shipped from warehouses); no warehouse ships more than its hourly capacity
    or more than has arrived; the parcels per warehouse and hour in
    ``outcomes_flow`` add up to the parcels picked; the orders per second add
    up to the orders per region.
    """
    t = result.tables
    reg = t["outcomes_region"]
    bad = reg["units"] != reg["shipped"] + reg["unfilled"]
    if bad.any():
        _fail("outcomes_region", "units ordered != shipped + unfilled", reg[bad])
    bad = reg["shipped"] != reg["delivered_48h"] + reg["late"]
    if bad.any():
        _fail("outcomes_region", "shipped != delivered within 48 h + late", reg[bad])
    bad = reg["delivered_24h"] > reg["delivered_48h"]
    if bad.any():
        _fail("outcomes_region", "more delivered within 24 h than within 48 h", reg[bad])
    if (result.stock_left < 0).any():
        raise OutcomeError("stock left is negative somewhere")
    wh = t["outcomes_warehouse"]
    scale = float(result.figures.get("scale", 1.0))
    if problem is not None:
        cap = pd.Series(scaled(problem.capacity, scale), index=problem.warehouses.ids)
        bad = wh["shipped"].to_numpy() > cap[wh["warehouse_id"]].to_numpy()
        if bad.any():
            _fail("outcomes_warehouse", "shipped more than the hourly capacity", wh[bad])
    arrived = wh.groupby("warehouse_id", sort=False)["picked"].cumsum()
    if problem is not None and problem.backlog is not None:  # parcels waiting at midnight
        waiting = pd.Series(scaled(problem.backlog, scale), index=problem.warehouses.ids)
        arrived = arrived + waiting[wh["warehouse_id"]].to_numpy()
    shipped = wh.groupby("warehouse_id", sort=False)["shipped"].cumsum()
    bad = (shipped > arrived) | (wh["backlog"] != arrived - shipped)
    if bad.any():
        _fail("outcomes_warehouse", "backlog != parcels picked - shipped so far", wh[bad])
    if int(wh["picked"].sum()) != int(t["outcomes_flow"]["parcels"].sum()):
        raise OutcomeError("outcomes_flow parcels do not add up to the parcels picked")
    if int(t["outcomes_second"]["orders"].sum()) != int(reg["orders"].sum()):
        raise OutcomeError("outcomes_second orders do not add up to outcomes_region orders")
    brand = t["outcomes_brand"]
    for col in ("orders", "units", "shipped", "delivered_24h", "delivered_48h", "unfilled"):
        if int(brand[col].sum()) != int(reg[col].sum()):
            raise OutcomeError(f"outcomes_brand {col} do not add up to outcomes_region {col}")
    if problem is not None:
        stock = scaled(problem.stock, scale)
        used = int((stock - result.stock_left).sum())
        from_wh = int(reg["shipped"].sum()) - int(result.figures.get("factory_units", 0))
        if used != from_wh or not np.all(stock >= result.stock_left):
            raise OutcomeError(f"stock used ({used:,}) != units shipped from warehouses "
                               f"({from_wh:,})")
