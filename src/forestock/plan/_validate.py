"""An independent check of any plan: integers, non-negative, within storage, national totals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestock.plan._result import PlanError

__all__ = ["validate_plan"]


def validate_plan(
    plan: pd.DataFrame,
    warehouses: pd.DataFrame,
    national: pd.Series | None = None,
    *,
    allow_shortfall: bool = False,
) -> None:
    """Check a plan independently of the solver that made it.

    Units must be non-negative whole numbers, each SKU and warehouse pair
    appears once, every warehouse exists and holds at most its
    ``storage_units``, and (if ``national`` maps sku_id to units) each SKU's
    total equals its national quantity (at most, with ``allow_shortfall``).

    Raises
    ------
    PlanError
        Naming the first rule broken, with the SKU and warehouse.
    """
    need = {"sku_id", "warehouse_id", "units"}
    if not need <= set(plan.columns):
        raise PlanError(f"a plan needs the columns {sorted(need)}, got {list(plan.columns)}")
    u = pd.to_numeric(plan["units"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(u)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PlanError(f"plan row {i + 1}: units {plan['units'].iloc[i]!r} is not a number")
    frac = u != np.round(u)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise PlanError(f"plan row {i + 1}: units {u[i]} for {plan['sku_id'].iloc[i]} in "
                        f"{plan['warehouse_id'].iloc[i]} is not a whole number")
    if (u < 0).any():
        i = int(np.flatnonzero(u < 0)[0])
        raise PlanError(f"plan row {i + 1}: negative units ({u[i]:.0f}) for "
                        f"{plan['sku_id'].iloc[i]} in {plan['warehouse_id'].iloc[i]}")
    dup = plan.duplicated(["sku_id", "warehouse_id"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise PlanError(f"plan row {i + 1}: {plan['sku_id'].iloc[i]} in "
                        f"{plan['warehouse_id'].iloc[i]} appears twice")
    room = warehouses.set_index("warehouse_id")["storage_units"]
    unknown = ~plan["warehouse_id"].isin(room.index)
    if unknown.any():
        raise PlanError(f"plan uses unknown warehouse {plan.loc[unknown, 'warehouse_id'].iloc[0]}")
    held = pd.Series(u, index=plan.index).groupby(plan["warehouse_id"]).sum()
    over = held - room.reindex(held.index)
    if (over > 0).any():
        w = over.idxmax()
        raise PlanError(f"warehouse {w} holds {held[w]:,.0f} units, {over[w]:,.0f} over its "
                        f"storage of {room[w]:,}")
    if national is not None:
        got = pd.Series(u, index=plan.index).groupby(plan["sku_id"]).sum()
        extra = got.index.difference(national.index)
        if len(extra):
            raise PlanError(f"plan holds SKU {extra[0]}, which has no national quantity")
        got = got.reindex(national.index, fill_value=0)
        diff = got - national
        broken = (diff > 0) | ((diff < 0) & (not allow_shortfall))
        if broken.any():
            s = broken.idxmax()
            raise PlanError(
                f"SKU {s}: plan holds {got[s]:,.0f} units, national quantity {national[s]:,}"
            )
