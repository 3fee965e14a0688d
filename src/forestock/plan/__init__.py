"""Pre-position stock before the event and tell each manufacturer what to ship where, by when.

This first planner is the rule planners use today, done carefully: each
SKU's forecast demand per region (at a service quantile) goes to the
region's nearest warehouse (by lane hours) with room left, largest demand
first, spilling to the next nearest when a warehouse fills.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestock.errors import ForestockError, InfeasibleError
from forestock.geo import haversine_km
from forestock.plan import _kernels as K
from forestock.tables import IdIndex, lane_hours

__all__ = [
    "PlanError",
    "PlanParams",
    "PlanProblem",
    "PlanResult",
    "make_notices",
    "solve_plan",
    "validate_plan",
]

log = logging.getLogger("forestock.plan")

#: Bonded ports through which overseas brands' goods enter (name, lat, lon).
BONDED_PORTS = (
    ("Shanghai", 31.23, 121.47),
    ("Ningbo", 29.87, 121.55),
    ("Shenzhen", 22.54, 114.06),
    ("Tianjin", 39.08, 117.20),
    ("Qingdao", 36.07, 120.38),
    ("Xiamen", 24.48, 118.09),
)


class PlanError(ForestockError):
    """A plan breaks a rule (capacity, integrality, national totals)."""


@dataclass(frozen=True)
class PlanParams:
    """Settings of the planner.

    Parameters
    ----------
    quantile
        Forecast column each region's stock covers (``mean`` or ``qNN``).
    cutoff_days
        Stock must be in its warehouse this many days before the event.
    safety_days
        Buffer added to every lead time on the notices.
    road_km_per_day, sea_km_per_day, customs_days
        Lead-time model: trucks, ships, and bonded-port clearance.
    allow_shortfall
        Plan what fits when demand exceeds the network's storage.
    """

    quantile: str = "q90"
    cutoff_days: int = 3
    safety_days: int = 2
    road_km_per_day: float = 600.0
    sea_km_per_day: float = 650.0
    customs_days: int = 3
    allow_shortfall: bool = False

    def __post_init__(self) -> None:
        if self.quantile != "mean" and not (len(self.quantile) == 3
                                            and self.quantile.startswith("q")
                                            and self.quantile[1:].isdigit()):
            raise ValueError(f"quantile must be 'mean' or like 'q90', got {self.quantile!r}")
        for name in ("cutoff_days", "safety_days", "customs_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.road_km_per_day <= 0 or self.sea_km_per_day <= 0:
            raise ValueError("road_km_per_day and sea_km_per_day must be positive")


@dataclass(frozen=True)
class PlanProblem:
    """Demand to cover and the network to hold it, over dense codes."""

    event_start: dt.date
    skus: IdIndex
    regions: IdIndex
    warehouses: IdIndex
    demand: np.ndarray  # int64 [sku, region]: units to stock for the window
    storage: np.ndarray  # int64 [warehouse]
    transit: np.ndarray  # float64 [warehouse, region], NaN where no lane
    price: np.ndarray  # float64 [sku]

    def replace(self, **changes: object) -> PlanProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_tables(
        cls,
        forecast: pd.DataFrame,
        warehouses: pd.DataFrame,
        lanes: pd.DataFrame,
        skus: pd.DataFrame,
        regions: pd.DataFrame,
        quantile: str = "q90",
    ) -> PlanProblem:
        """Build the problem from the forecast and the network tables."""
        if quantile not in forecast.columns:
            cols = [c for c in forecast.columns if c == "mean" or c.startswith("q")]
            raise ForestockError(f"the forecast has no column {quantile!r} (it has {cols})")
        sku_ix = IdIndex(skus["sku_id"])
        reg_ix = IdIndex(regions["region_id"])
        wh_ix = IdIndex(warehouses["warehouse_id"])
        if (warehouses["storage_units"] < 0).any():
            bad = warehouses.loc[warehouses["storage_units"] < 0, "warehouse_id"].iloc[0]
            raise ForestockError(f"warehouse {bad} has negative storage_units")
        try:
            fs = sku_ix.codes(forecast["sku_id"], what="sku_id in the forecast")
            fr = reg_ix.codes(forecast["region_id"], what="region_id in the forecast")
            transit = lane_hours(lanes, wh_ix, reg_ix)
        except ValueError as err:
            raise ForestockError(f"{err} (not in the skus/regions/warehouses tables)") from None
        demand = np.zeros((len(sku_ix), len(reg_ix)))
        np.add.at(demand, (fs, fr), forecast[quantile].to_numpy(dtype=float))
        no_lane = np.isnan(transit).all(axis=0) & (demand.sum(axis=0) > 0)
        if no_lane.any():
            raise ForestockError(
                f"no lane reaches region {reg_ix.ids[int(np.flatnonzero(no_lane)[0])]}, "
                "which has forecast demand; add lanes for it"
            )
        return cls(
            event_start=pd.Timestamp(forecast["date"].min()).date(),
            skus=sku_ix,
            regions=reg_ix,
            warehouses=wh_ix,
            demand=np.ceil(demand - 1e-9).astype(np.int64),
            storage=warehouses["storage_units"].to_numpy(dtype=np.int64),
            transit=transit,
            price=skus["price"].to_numpy(dtype=float),
        )


@dataclass(frozen=True)
class PlanResult:
    """The plan: units per SKU and warehouse, and what it promises."""

    plan: pd.DataFrame
    status: str
    units: int
    demand: int
    shortfall: int
    expected_share_24h: float
    expected_share_48h: float
    warehouses: pd.DataFrame
    seed: int = 0
    figures: dict[str, float] = field(default_factory=dict)


def solve_plan(problem: PlanProblem, params: PlanParams | None = None, seed: int = 0) -> PlanResult:
    """Place every SKU's regional demand in the nearest warehouses with room.

    Cells (SKU x region) are placed largest first, so the biggest flows get
    the nearest warehouses; ties break by SKU then region code.

    Raises
    ------
    InfeasibleError
        When total demand exceeds total storage, unless ``allow_shortfall``.
    """
    params = params or PlanParams()
    p = problem
    total = int(p.demand.sum())
    room_total = int(p.storage.sum())
    if total > room_total and not params.allow_shortfall:
        raise InfeasibleError(
            f"the plan needs {total:,} units but the warehouses hold {room_total:,}: "
            f"{total - room_total:,} units ({(total - room_total) / total:.1%}) do not fit; "
            "add storage, lower the service level (--quantile), or pass --allow-shortfall"
        )
    s_i, r_i = np.nonzero(p.demand)
    units = p.demand[s_i, r_i]
    order = np.lexsort((r_i, s_i, -units))
    hours = np.where(np.isnan(p.transit), np.inf, p.transit).T  # [region, warehouse]
    rank = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
    rank_hours = np.take_along_axis(hours, rank, axis=1)
    route = np.where(np.isfinite(rank_hours), rank, -1).astype(np.int32)
    room = p.storage.copy()
    alloc = np.zeros((len(p.skus), len(p.warehouses)), dtype=np.int64)
    tally = np.zeros(2)
    short = K.nearest_with_room(s_i[order].astype(np.int32), r_i[order].astype(np.int32),
                                units[order], route, room, alloc, rank_hours, tally)
    shortfall = int(short.sum())
    placed = total - shortfall
    nz_s, nz_w = np.nonzero(alloc)
    plan = pd.DataFrame({
        "sku_id": p.skus.ids[nz_s],
        "warehouse_id": p.warehouses.ids[nz_w],
        "units": alloc[nz_s, nz_w],
    })
    used = alloc.sum(axis=0)
    wh = pd.DataFrame({
        "warehouse_id": p.warehouses.ids,
        "units": used,
        "storage_units": p.storage,
        "utilisation": np.divide(used, p.storage, out=np.zeros(len(used)), where=p.storage > 0),
    })
    log.info("plan: %s of %s units placed", placed, total)
    return PlanResult(
        plan=plan,
        status="shortfall" if shortfall else "ok",
        units=placed,
        demand=total,
        shortfall=shortfall,
        expected_share_24h=float(tally[0] / total) if total else 0.0,
        expected_share_48h=float(tally[1] / total) if total else 0.0,
        warehouses=wh,
        seed=seed,
        figures={"full_warehouses": float((room == 0).sum())},
    )


def validate_plan(
    plan: pd.DataFrame,
    warehouses: pd.DataFrame,
    national: pd.Series | None = None,
) -> None:
    """Check a plan independently of the solver that made it.

    Units must be non-negative integers, no warehouse may hold more than its
    ``storage_units``, every warehouse must exist, and (if ``national`` maps
    sku_id to units) each SKU's total must match.

    Raises
    ------
    PlanError
        Naming the first rule broken.
    """
    u = plan["units"].to_numpy()
    if not np.issubdtype(u.dtype, np.integer) and not np.all(np.equal(np.mod(u, 1), 0)):
        raise PlanError("plan units must be whole numbers")
    if (u < 0).any():
        row = plan.iloc[int(np.flatnonzero(u < 0)[0])]
        raise PlanError(f"negative units for {row['sku_id']} in {row['warehouse_id']}")
    room = warehouses.set_index("warehouse_id")["storage_units"]
    unknown = ~plan["warehouse_id"].isin(room.index)
    if unknown.any():
        raise PlanError(f"plan uses unknown warehouse {plan.loc[unknown, 'warehouse_id'].iloc[0]}")
    held = plan.groupby("warehouse_id")["units"].sum()
    over = held - room.reindex(held.index)
    if (over > 0).any():
        w = over.idxmax()
        raise PlanError(f"warehouse {w} holds {held[w]:,} units, {over[w]:,} over its storage")
    if national is not None:
        got = plan.groupby("sku_id")["units"].sum().reindex(national.index, fill_value=0)
        diff = got - national
        if (diff != 0).any():
            s = diff.ne(0).idxmax()
            raise PlanError(
                f"SKU {s}: plan holds {got[s]:,} units, national quantity {national[s]:,}"
            )


def lead_days(
    factory_lat: np.ndarray, factory_lon: np.ndarray, overseas: np.ndarray,
    wh_lat: np.ndarray, wh_lon: np.ndarray, params: PlanParams,
) -> np.ndarray:
    """Days from a factory to a warehouse: by road, or by sea through the nearest bonded port."""
    road = haversine_km(factory_lat, factory_lon, wh_lat, wh_lon) * 1.3
    days = 1 + np.ceil(road / params.road_km_per_day)
    if overseas.any():
        ports = np.array([(lat, lon) for _, lat, lon in BONDED_PORTS])
        to_port = haversine_km(factory_lat[:, None], factory_lon[:, None],
                               ports[None, :, 0], ports[None, :, 1])
        nearest = np.argmin(to_port, axis=1)
        sea = np.take_along_axis(to_port, nearest[:, None], axis=1)[:, 0]
        inland = haversine_km(ports[nearest, 0], ports[nearest, 1], wh_lat, wh_lon) * 1.3
        sea_days = (2 + np.ceil(sea * 1.2 / params.sea_km_per_day) + params.customs_days
                    + 1 + np.ceil(inland / params.road_km_per_day))
        days = np.where(overseas, sea_days, days)
    return days.astype(np.int64)


def make_notices(
    plan: pd.DataFrame,
    skus: pd.DataFrame,
    brands: pd.DataFrame,
    warehouses: pd.DataFrame,
    event_start: dt.date,
    params: PlanParams | None = None,
) -> pd.DataFrame:
    """Advance shipping notices: one per SKU and warehouse of the plan.

    ``arrive_by`` is ``cutoff_days`` before the event; ``ship_by`` is the
    lead time plus ``safety_days`` before that.
    """
    params = params or PlanParams()
    rows = plan[plan["units"] > 0].merge(skus[["sku_id", "brand_id"]], on="sku_id", how="left")
    rows = rows.merge(brands[["brand_id", "country", "factory_lat", "factory_lon"]],
                      on="brand_id", how="left")
    rows = rows.merge(warehouses[["warehouse_id", "lat", "lon"]], on="warehouse_id", how="left")
    days = lead_days(rows["factory_lat"].to_numpy(float), rows["factory_lon"].to_numpy(float),
                     (rows["country"] != "CN").to_numpy(), rows["lat"].to_numpy(float),
                     rows["lon"].to_numpy(float), params)
    arrive = pd.Timestamp(event_start) - pd.Timedelta(days=params.cutoff_days)
    rows["arrive_by"] = arrive
    rows["ship_by"] = arrive - pd.to_timedelta(days + params.safety_days, unit="D")
    rows = rows.sort_values(["brand_id", "ship_by", "sku_id", "warehouse_id"], ignore_index=True)
    width = max(6, math.ceil(math.log10(len(rows) + 1)))
    rows["notice_id"] = [f"N{i:0{width}d}" for i in range(1, len(rows) + 1)]
    return rows[["notice_id", "brand_id", "sku_id", "warehouse_id", "units", "ship_by",
                 "arrive_by"]]
