"""One event day to rehearse, as flat arrays over dense codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.simulate._demand import orders_in_day
from forestock.simulate._routing import ROUTING_POLICIES
from forestock.tables import IdIndex, lane_hours

__all__ = ["SimulateProblem"]


@dataclass(frozen=True)
class SimulateProblem:
    """One event day to rehearse, as flat arrays over dense codes.

    Build it with :meth:`from_tables`; ``replace`` makes what-if variants.
    With ``orders_cell`` set, demand is the given orders (cell, time in
    seconds after midnight, units) instead of orders generated from
    ``cell_units``. ``backlog`` holds the parcels each warehouse still has
    waiting at midnight (a day of a window after the first: an earlier day's,
    which ship first and whose outcomes were that day's).
    """

    day: dt.date
    skus: IdIndex
    regions: IdIndex
    warehouses: IdIndex
    brands: IdIndex
    sku_brand: np.ndarray  # int32 [sku]
    price: np.ndarray  # float64 [sku]
    cell_sku: np.ndarray  # int32 [cell]
    cell_region: np.ndarray  # int32 [cell]
    cell_units: np.ndarray  # int64 [cell]
    stock: np.ndarray  # int64 [sku, warehouse]
    transit: np.ndarray  # float64 [warehouse, region], NaN where no lane
    capacity: np.ndarray  # int64 [warehouse], parcels per hour
    orders_cell: np.ndarray | None = None  # int64 [order]
    orders_time: np.ndarray | None = None  # float64 [order], seconds after midnight
    orders_units: np.ndarray | None = None  # int64 [order]
    backlog: np.ndarray | None = None  # int64 [warehouse]: parcels waiting at midnight

    def replace(self, **changes: object) -> SimulateProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_tables(
        cls,
        day: dt.date,
        demand: pd.DataFrame,
        plan: pd.DataFrame,
        warehouses: pd.DataFrame,
        lanes: pd.DataFrame,
        skus: pd.DataFrame,
        regions: pd.DataFrame,
    ) -> SimulateProblem:
        """Build the problem from contract tables.

        ``demand`` is either sales-shaped (sku_id, region_id, units for the
        day: ``truth`` rows of that date, or :func:`demand_from_forecast`) or
        an ``orders`` table (order_id, time, sku_id, region_id, units), whose
        times must fall within ``day``; ``plan`` gives the units of each SKU
        per warehouse.
        """
        sku_ix = IdIndex(skus["sku_id"])
        reg_ix = IdIndex(regions["region_id"])
        wh_ix = IdIndex(warehouses["warehouse_id"])
        brand_ix = IdIndex(pd.unique(skus["brand_id"]))
        given = "time" in demand.columns
        if given:
            secs = orders_in_day(demand, day)
        else:
            demand = demand[demand["units"] > 0]
        stock = np.zeros((len(sku_ix), len(wh_ix)), dtype=np.int64)
        try:
            ps = sku_ix.codes(plan["sku_id"], what="sku_id in plan")
            pw = wh_ix.codes(plan["warehouse_id"], what="warehouse_id in plan")
            cs = sku_ix.codes(demand["sku_id"], what="sku_id in demand")
            cr = reg_ix.codes(demand["region_id"], what="region_id in demand")
            transit = lane_hours(lanes, wh_ix, reg_ix)
        except ValueError as err:
            raise ForestockError(str(err)) from None
        np.add.at(stock, (ps, pw), plan["units"].to_numpy(dtype=np.int64))
        units = demand["units"].to_numpy(dtype=np.int64)
        orders: dict[str, np.ndarray | None] = {}
        if given:
            if (units < 1).any():
                row = int(np.flatnonzero(units < 1)[0])
                raise ForestockError(f"orders, row {row + 1}, column 'units': an order needs "
                                     "at least one unit")
            key = cs.astype(np.int64) * len(reg_ix) + cr
            uniq, inverse = np.unique(key, return_inverse=True)
            cs, cr = (uniq // len(reg_ix)).astype(np.int32), (uniq % len(reg_ix)).astype(np.int32)
            orders = {"orders_cell": inverse.astype(np.int64), "orders_time": secs,
                      "orders_units": units}
            units = np.bincount(inverse, weights=units, minlength=uniq.size).astype(np.int64)
        return cls(
            day=day,
            skus=sku_ix,
            regions=reg_ix,
            warehouses=wh_ix,
            brands=brand_ix,
            sku_brand=brand_ix.codes(skus["brand_id"]),
            price=skus["price"].to_numpy(dtype=np.float64),
            cell_sku=cs,
            cell_region=cr,
            cell_units=units,
            stock=stock,
            transit=transit,
            capacity=warehouses["outbound_per_hour"].to_numpy(dtype=np.int64),
            **orders,
        )

    def routes(self, policy: str = "nearest") -> np.ndarray:
        """Per region, the warehouses an order tries in turn, -1 past the last one."""
        return ROUTING_POLICIES[policy](self.transit, self.capacity)
