"""The planning problem: demand to cover (the forecast's cells and national quantities)
and the network to hold it, over dense codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.plan._costs import cost_arrays, inbound_km
from forestock.tables import IdIndex, lane_hours
from forestock.uncertainty import DemandUncertainty, id_keys, quantile_level

__all__ = ["PlanProblem", "plan_level"]


def plan_level(quantile: str) -> float | None:
    """Service level of ``quantile`` (``q90`` -> 0.9); None for ``mean``."""
    if quantile == "mean":
        return None
    try:
        return quantile_level(quantile)
    except ValueError:
        raise ValueError(f"quantile must be 'mean' or like 'q90', got {quantile!r}") from None


@dataclass(frozen=True)
class PlanProblem:
    """Demand to cover and the network to hold it, over dense codes.

    Demand is sparse: one cell per SKU and region with forecast demand,
    sorted by SKU (``indptr[s]:indptr[s+1]`` are SKU ``s``'s cells), each with
    its forecast mean and quantiles (``levels``). ``national`` is the units
    of each SKU to place. Build it with :meth:`from_tables` or
    :meth:`from_arrays`; ``replace`` makes what-if variants.
    """

    event_start: dt.date
    skus: IdIndex
    regions: IdIndex
    warehouses: IdIndex
    indptr: np.ndarray  # int64 [sku + 1]
    cell_region: np.ndarray  # int32 [cell]
    cell_mean: np.ndarray  # float64 [cell]
    cell_quant: np.ndarray  # float64 [cell, level]
    levels: np.ndarray  # float64 [level], increasing in (0, 1)
    national: np.ndarray  # int64 [sku]
    storage: np.ndarray  # int64 [warehouse]
    outbound: np.ndarray  # float64 [warehouse], parcels per hour
    transit: np.ndarray  # float64 [warehouse, region]
    lane_cost: np.ndarray  # float64 [warehouse, region]
    price: np.ndarray  # float64 [sku]
    population: np.ndarray  # float64 [region]
    inbound_km: np.ndarray  # float64 [sku, warehouse]: road km from factory or port
    correlation: float | None = 0.5  # None: each cell's shared share from its dispersion
    shortage_cost: np.ndarray | None = None  # float64 [sku]: CNY per unit of demand unserved
    surplus_cost: np.ndarray | None = None  # float64 [sku, warehouse]: CNY per unit left over
    market_sd: float = 0.0  # relative sd of the total's error common to every SKU

    def replace(self, **changes: object) -> PlanProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_costs(self, costs: pd.DataFrame, source: str = "costs") -> PlanProblem:
        """A copy with asymmetric per-item costs, as in Cainiao's replenishment data: each
        unit of a SKU's demand left unserved costs ``shortage_cny``, each unit left over in
        a warehouse after the event ``surplus_cny`` (on top of margin, holding and the
        promise).

        ``costs`` has columns ``sku_id``, ``shortage_cny`` and ``surplus_cny``, and
        optionally ``warehouse_id``: a row without one (empty, or ``all``) sets the SKU's
        shortage cost and its surplus cost everywhere, a row with one its surplus cost in
        that warehouse. SKUs without a row cost nothing extra.

        Raises
        ------
        ForestockError
            Naming ``source``, the row and the column of a missing column, an
            unknown SKU or warehouse, or a cost that is not a number >= 0.
        """
        short, surplus = cost_arrays(costs, self.skus, self.warehouses, source)
        return self.replace(shortage_cost=short, surplus_cost=surplus)

    @property
    def cell_sku(self) -> np.ndarray:
        """SKU code of every cell."""
        return np.repeat(np.arange(len(self.skus), dtype=np.int32), np.diff(self.indptr))

    @functools.cached_property
    def uncertainty(self) -> DemandUncertainty:
        """The forecast's joint distribution over the cells, as plan and rehearsal share it
        (see :mod:`forestock.uncertainty`)."""
        return DemandUncertainty(
            indptr=self.indptr, cell_region=self.cell_region, mean=self.cell_mean,
            quant=self.cell_quant, levels=self.levels, sku_key=id_keys(self.skus.ids),
            region_key=id_keys(self.regions.ids), correlation=self.correlation,
        ).with_market_sd(self.market_sd)

    @property
    def demand(self) -> int:
        """Units to place: the national quantities added up."""
        return int(self.national.sum())

    @classmethod
    def from_arrays(
        cls,
        mean: np.ndarray,
        storage: np.ndarray,
        transit: np.ndarray,
        *,
        spread: float = 0.4,
        quantile: str = "q90",
        correlation: float | None = 0.5,
        lane_cost: np.ndarray | None = None,
        price: np.ndarray | None = None,
        outbound: np.ndarray | None = None,
        population: np.ndarray | None = None,
        inbound_km: np.ndarray | None = None,
        national: np.ndarray | None = None,
        event_start: dt.date = dt.date(2027, 11, 11),
    ) -> PlanProblem:
        """A problem over plain arrays: mean demand ``[sku, region]`` (dense or
        ``scipy.sparse``), storage ``[warehouse]`` and lane hours ``[warehouse,
        region]``; quantiles q10/q50/q90 from a normal with standard deviation
        ``sqrt(mean + (spread * mean)**2)``. Ids are ``s0``, ``r0``, ``w0``...
        """
        import scipy.sparse as sp

        m = sp.csr_matrix(mean, dtype=float)
        m.eliminate_zeros()
        m.sort_indices()
        n_s, n_r = m.shape
        n_w = len(storage)
        mu = m.data
        sd = np.sqrt(mu + (spread * mu) ** 2)
        levels = np.array([0.1, 0.5, 0.9])
        z = np.array([NormalDist().inv_cdf(q) for q in levels])
        quant = np.maximum(mu[:, None] + z[None, :] * sd[:, None], 0.0)
        indptr = m.indptr.astype(np.int64)
        region = m.indices.astype(np.int32)
        if national is None:
            national = DemandUncertainty(
                indptr=indptr, cell_region=region, mean=mu, quant=quant, levels=levels,
                sku_key=np.zeros(n_s, dtype=np.int64), region_key=np.zeros(n_r, dtype=np.int64),
                correlation=correlation).national(plan_level(quantile))
        return cls(
            event_start=event_start,
            skus=IdIndex([f"s{i}" for i in range(n_s)]),
            regions=IdIndex([f"r{i}" for i in range(n_r)]),
            warehouses=IdIndex([f"w{i}" for i in range(n_w)]),
            indptr=indptr,
            cell_region=region,
            cell_mean=mu.astype(float),
            cell_quant=quant,
            levels=levels,
            national=np.asarray(national, dtype=np.int64),
            storage=np.asarray(storage, dtype=np.int64),
            outbound=(np.full(n_w, 1e12) if outbound is None
                      else np.asarray(outbound, dtype=float)),
            transit=np.asarray(transit, dtype=float),
            lane_cost=(np.zeros((n_w, n_r)) if lane_cost is None
                       else np.asarray(lane_cost, dtype=float)),
            price=np.ones(n_s) * 100.0 if price is None else np.asarray(price, dtype=float),
            population=(np.ones(n_r) if population is None
                        else np.asarray(population, dtype=float)),
            inbound_km=(np.zeros((n_s, n_w)) if inbound_km is None
                        else np.asarray(inbound_km, dtype=float)),
            correlation=correlation,
        )

    @classmethod
    def from_tables(
        cls,
        forecast: pd.DataFrame,
        warehouses: pd.DataFrame,
        lanes: pd.DataFrame,
        skus: pd.DataFrame,
        regions: pd.DataFrame,
        quantile: str = "q90",
        *,
        brands: pd.DataFrame | None = None,
        national: pd.Series | pd.DataFrame | None = None,
        correlation: float | None = None,
        market_sd: float = 0.0,
    ) -> PlanProblem:
        """Build the problem from the forecast and the network tables.

        Parameters
        ----------
        forecast
            The forecast table; a window of several dates is added up.
        warehouses, lanes, skus, regions
            The network; every warehouse needs a lane to every region.
        quantile
            Service level of each SKU's national quantity: ``mean``, or ``qNN``
            for the NN% quantile of national demand (regions correlated through
            a national factor).
        brands
            Factory locations and countries, for inbound costs; none: no inbound cost.
        national
            Units per SKU to place (``sku_id`` -> units, or a frame with sku_id
            and units), instead of the service level.
        correlation
            Share of each region's demand variance that is national (common to
            all regions of a SKU). ``None`` (the default) reads it from each
            cell's forecast: the variance beyond a Poisson count's (the
            forecast's over-dispersion) is a shock the SKU's regions share, the
            Poisson part is the region's own. So a best-seller's regions rise
            and fall together, and a slow SKU's scatter independently: the
            covariance of Poisson counts under one shared multiplier.
        market_sd
            Relative standard deviation of the total's error common to every SKU (the
            forecast's ``market_sd``, :class:`~forestock.forecast.MarketError`): the
            scenarios' SKUs share a market factor of that weight
            (:meth:`~forestock.uncertainty.DemandUncertainty.with_market_sd`); 0: SKUs
            independent. Each SKU's national quantity does not change with it.

        Raises
        ------
        ForestockError
            Unknown SKUs or regions in the forecast, negative storage, missing
            lanes, a forecast without quantile columns.
        """
        level = plan_level(quantile)
        if correlation is not None and not 0.0 <= correlation < 1.0:
            raise ValueError(f"correlation must be in [0, 1), got {correlation}")
        if not (market_sd >= 0.0 and np.isfinite(market_sd)):
            raise ValueError(f"market_sd must be a finite number >= 0, got {market_sd}")
        sku_ix = IdIndex(skus["sku_id"])
        reg_ix = IdIndex(regions["region_id"])
        wh_ix = IdIndex(warehouses["warehouse_id"])
        for col in ("storage_units", "outbound_per_hour"):
            neg = warehouses[col].to_numpy() < 0
            if neg.any():
                i = int(np.flatnonzero(neg)[0])
                raise ForestockError(
                    f"warehouses, row {i + 1}, column {col!r}: warehouse "
                    f"{warehouses['warehouse_id'].iloc[i]} has a negative {col} "
                    f"({warehouses[col].iloc[i]})"
                )
        model = DemandUncertainty.from_forecast(forecast, sku_ix, reg_ix, correlation)
        try:
            transit = lane_hours(lanes, wh_ix, reg_ix)
        except ValueError as err:
            raise ForestockError(f"lanes: {err} (not in the warehouses/regions tables)") from None
        cost = np.full(transit.shape, np.nan)
        cost[wh_ix.codes(lanes["warehouse_id"]), reg_ix.codes(lanes["region_id"])] = (
            lanes["cost_per_unit"].to_numpy(dtype=float))
        missing = np.isnan(transit)
        if missing.any():
            w, r = np.argwhere(missing)[0]
            raise ForestockError(
                f"lanes: no lane from warehouse {wh_ix.ids[w]} to region {reg_ix.ids[r]} "
                f"({int(missing.sum()):,} warehouse and region pairs lack a lane); the planner "
                "needs transit_hours and cost_per_unit for every pair"
            )
        nat = model.national(level) if national is None else _given_national(national, sku_ix)
        event_start = pd.Timestamp(forecast["date"].min()).date()
        inbound = np.zeros((len(sku_ix), len(wh_ix)))
        if brands is not None:
            b_ix = IdIndex(brands["brand_id"])
            try:
                sb = b_ix.codes(skus["brand_id"], what="brand_id in skus")
            except ValueError as err:
                raise ForestockError(str(err)) from None
            per_brand = inbound_km(
                brands["factory_lat"].to_numpy(float), brands["factory_lon"].to_numpy(float),
                (brands["country"] != "CN").to_numpy(), warehouses["lat"].to_numpy(float),
                warehouses["lon"].to_numpy(float))
            inbound = per_brand[sb]
        return cls(
            event_start=event_start,
            skus=sku_ix,
            regions=reg_ix,
            warehouses=wh_ix,
            indptr=model.indptr,
            cell_region=model.cell_region,
            cell_mean=model.mean,
            cell_quant=model.quant,
            levels=model.levels,
            national=nat,
            storage=warehouses["storage_units"].to_numpy(dtype=np.int64),
            outbound=warehouses["outbound_per_hour"].to_numpy(dtype=float),
            transit=transit,
            lane_cost=cost,
            price=skus["price"].to_numpy(dtype=float),
            population=regions["population"].to_numpy(dtype=float),
            inbound_km=inbound,
            correlation=correlation,
            market_sd=float(market_sd),
        )


def _given_national(national: pd.Series | pd.DataFrame, sku_ix: IdIndex) -> np.ndarray:
    if isinstance(national, pd.DataFrame):
        if not {"sku_id", "units"} <= set(national.columns):
            raise ForestockError("the national quantities need columns sku_id and units")
        national = national.set_index("sku_id")["units"]
    try:
        codes = sku_ix.codes(pd.Series(national.index, dtype=object), what="sku_id")
    except ValueError as err:
        raise ForestockError(f"national quantities: {err}, not in the skus table") from None
    units = national.to_numpy(dtype=float)
    bad = ~np.isfinite(units) | (units < 0) | (units != np.round(units))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ForestockError(f"national quantity of SKU {national.index[i]} is "
                             f"{units[i]}, not a whole number >= 0")
    out = np.zeros(len(sku_ix), dtype=np.int64)
    out[codes] = units.astype(np.int64)
    return out
