"""An event window to plan: each day's demand, the window's total and any run of its days',
and the lanes that replenish the network during it (hubs, transfers, inbound lead times)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.plan._notices import lead_days
from forestock.plan._params import PlanParams
from forestock.plan._problem import PlanProblem, plan_level
from forestock.uncertainty import DemandUncertainty, quantile_columns, quantile_level

__all__ = ["WindowProblem"]


@dataclass(frozen=True)
class WindowProblem:
    """An event window of one day or many to plan, over dense codes.

    ``base`` is the plan of the whole window at once: its cells carry the window
    total's mean and quantiles per SKU and region (``forecast_total``; a one-day
    window the forecast's own), its national quantities each SKU's window total at
    the plan's level. The days' means and spreads (``day_mean``, ``day_sd``, over
    ``base``'s cells) cut the window into runs of days (:meth:`part`): a run's
    quantities are its own total's, not sums of daily quantiles (see :meth:`part`).

    Hubs (the ``rdc`` warehouses; every warehouse when there are none) receive the
    manufacturers' replenishment waves and send transfers on to the warehouses nearest
    to them (``hub``). Build it with :meth:`from_tables`; ``replace`` makes what-if
    variants.
    """

    base: PlanProblem
    days: np.ndarray  # datetime64[D] [day]
    day_mean: np.ndarray  # float64 [cell, day]
    day_sd: np.ndarray  # float64 [cell, day]
    sku_mean: np.ndarray  # float64 [sku]: the window total's mean
    sku_quantity: np.ndarray  # float64 [sku]: the window total at the plan's level
    hub: np.ndarray  # int32 [warehouse]: the hub replenishing it (itself for a hub)
    transfer_hours: np.ndarray  # float64 [warehouse]: lane hours from its hub (0: a hub)
    transfer_cost: np.ndarray  # float64 [warehouse]: CNY per unit of that lane
    sku_brand: np.ndarray  # object [sku]: the brand_id of each SKU
    factory: np.ndarray  # float64 [sku, 3]: factory lat, lon, overseas (NaN: no brands)
    wh_location: np.ndarray  # float64 [warehouse, 2]: lat, lon

    def replace(self, **changes: object) -> WindowProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def n_days(self) -> int:
        return int(self.days.size)

    @property
    def dates(self) -> list[dt.date]:
        """The window's dates."""
        return [dt.date.fromisoformat(str(d)) for d in self.days]

    @property
    def is_hub(self) -> np.ndarray:
        """Whether each warehouse is a hub."""
        return np.asarray(self.hub == np.arange(self.hub.size))

    def daily_national(self) -> np.ndarray:
        """Mean units per SKU and day, ``[sku, day]``."""
        n_s = len(self.base.skus)
        sku = self.base.cell_sku
        out = np.zeros((n_s, self.n_days))
        for t in range(self.n_days):
            out[:, t] = np.bincount(sku, weights=self.day_mean[:, t], minlength=n_s)
        return out

    def part(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The demand of days ``first`` to ``last - 1``: each cell's mean and quantiles
        (over ``base.levels``) and each SKU's quantity at the plan's level.

        A run's total keeps the window total's shape: its mean is the days' means added
        up, its deviations from the mean (each quantile's, the SKU's quantity's) are
        the window total's scaled by ``sd_run / sd_window``, where a total of days
        ``D`` has ``sd^2 = (1 - rho) sum_D sd_t^2 + rho (sum_D sd_t)^2`` with the
        correlation ``rho`` of a cell's days that makes the window's own ``sd`` (read
        from its outermost quantiles) come out; a SKU's is scaled by its cells' ``sd``
        added up. The whole window is ``base``'s own quantities.
        """
        b = self.base
        if not 0 <= first < last <= self.n_days:
            raise ValueError(f"a run of days is 0 <= first < last <= {self.n_days}, got "
                             f"{first}, {last}")
        if first == 0 and last == self.n_days:
            return b.cell_mean, b.cell_quant, b.national
        sd = self.day_sd
        a_all, b_all = (sd * sd).sum(axis=1), sd.sum(axis=1) ** 2
        sd_w = b.uncertainty.sd()
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.clip(np.where(b_all > a_all, (sd_w**2 - a_all) / (b_all - a_all), 1.0),
                          0.0, 1.0)
        run = sd[:, first:last]
        sd_run = np.sqrt((1.0 - rho) * (run * run).sum(axis=1) + rho * run.sum(axis=1) ** 2)
        sd_full = np.sqrt((1.0 - rho) * a_all + rho * b_all)
        ratio = np.divide(sd_run, sd_full, out=np.zeros_like(sd_run), where=sd_full > 0)
        mean = self.day_mean[:, first:last].sum(axis=1)
        quant = np.maximum(mean[:, None] + (b.cell_quant - b.cell_mean[:, None])
                           * ratio[:, None], 0.0)
        quant = np.maximum.accumulate(quant, axis=1)
        sku, n_s = b.cell_sku, len(b.skus)
        sku_ratio = np.divide(np.bincount(sku, weights=sd_run, minlength=n_s),
                              np.bincount(sku, weights=sd_full, minlength=n_s),
                              out=np.zeros(n_s), where=np.bincount(
                                  sku, weights=sd_full, minlength=n_s) > 0)
        sku_mean = np.bincount(sku, weights=mean, minlength=n_s)
        units = sku_mean + (self.sku_quantity - self.sku_mean) * sku_ratio
        national = np.ceil(np.maximum(units, 0.0) - 1e-9).astype(np.int64)
        return mean, quant, national

    def part_problem(self, first: int, last: int) -> PlanProblem:
        """The plan of days ``first`` to ``last - 1`` at once (:meth:`part`), its event
        starting on the run's first day. The warehouses' hourly capacity is scaled by the
        run's units over its busiest day's, so that a plan within a day's capacity over
        the run is within it on every day of it (a warehouse serving the same share of
        the run's demand every day)."""
        b = self.base
        mean, quant, national = self.part(first, last)
        per_day = self.day_mean.sum(axis=0)
        busiest = float(per_day[first:last].max())
        days = float(per_day[first:last].sum()) / busiest if busiest > 0 else 1.0
        if first == 0 and last == self.n_days and days == 1.0:
            return b
        return b.replace(cell_mean=mean, cell_quant=quant, national=national,
                         outbound=b.outbound * days, event_start=self.dates[first])

    def inbound_days(self, params: PlanParams) -> np.ndarray:
        """Days from each SKU's factory to each warehouse ``[sku, warehouse]`` (road, or sea
        through the nearest bonded port, as the shipping notices have them); 1 without
        brands."""
        n_s, n_w = self.factory.shape[0], self.wh_location.shape[0]
        if np.isnan(self.factory).any():
            return np.ones((n_s, n_w), dtype=np.int64)
        f = np.repeat(self.factory, n_w, axis=0)
        w = np.tile(self.wh_location, (n_s, 1))
        days = lead_days(f[:, 0], f[:, 1], f[:, 2] > 0, w[:, 0], w[:, 1], params)
        return days.reshape(n_s, n_w)

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
        forecast_total: pd.DataFrame | None = None,
        brands: pd.DataFrame | None = None,
        correlation: float | None = None,
        market_sd: float = 0.0,
    ) -> WindowProblem:
        """Build the window from the forecast, its window totals and the network.

        A one-day window is today's plan problem (:meth:`PlanProblem.from_tables`); a
        window of several days needs ``forecast_total`` (per SKU and region and per SKU:
        the quantiles of the window's total) for the same window. Other arguments as
        :meth:`PlanProblem.from_tables`.

        Raises
        ------
        ForestockError
            A multi-day window without its ``forecast_total`` (or with one of another
            window, or without the plan's quantile), a warehouse standing in no region of
            the regions table; and what :meth:`PlanProblem.from_tables` raises.
        """
        level = plan_level(quantile)
        days = np.unique(pd.to_datetime(forecast["date"]).to_numpy().astype("datetime64[D]"))
        if days.size == 0:
            raise ForestockError("forecast: no rows, nothing to plan")
        args = (warehouses, lanes, skus, regions, quantile)
        if days.size == 1:
            base = PlanProblem.from_tables(forecast, *args, brands=brands,
                                           correlation=correlation, market_sd=market_sd)
            sku_mean = np.bincount(base.cell_sku, weights=base.cell_mean,
                                   minlength=len(base.skus)).astype(float)
            quantity = base.national.astype(float)
        else:
            totals, sku_mean_s, quantity_s = _window_totals(forecast_total, days, quantile, level)
            base = PlanProblem.from_tables(totals, *args, brands=brands, correlation=correlation,
                                           national=np.ceil(quantity_s - 1e-9),
                                           market_sd=market_sd)
            codes = base.skus.codes(pd.Series(quantity_s.index, dtype=object), what="sku_id")
            sku_mean = np.zeros(len(base.skus))
            quantity = np.zeros(len(base.skus))
            sku_mean[codes], quantity[codes] = sku_mean_s.to_numpy(), quantity_s.to_numpy()
        day_mean, day_sd = _daily(forecast, base, days)
        hub, hours, cost = _hubs(warehouses, base)
        factory = np.full((len(base.skus), 3), np.nan)
        if brands is not None:
            info = brands.set_index("brand_id").reindex(skus["brand_id"])
            factory = np.column_stack([info["factory_lat"].to_numpy(float),
                                       info["factory_lon"].to_numpy(float),
                                       (info["country"] != "CN").to_numpy(float)])
        return cls(base=base, days=days, day_mean=day_mean, day_sd=day_sd, sku_mean=sku_mean,
                   sku_quantity=quantity, hub=hub, transfer_hours=hours, transfer_cost=cost,
                   sku_brand=skus["brand_id"].to_numpy(dtype=object), factory=factory,
                   wh_location=warehouses[["lat", "lon"]].to_numpy(dtype=float))


def _window_totals(forecast_total: pd.DataFrame | None, days: np.ndarray, quantile: str,
                   level: float | None) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The window totals per SKU and region (shaped as a forecast of the window's first
    day), and per SKU its mean and quantity at ``level``."""
    first, last = pd.Timestamp(days[0]).date(), pd.Timestamp(days[-1]).date()
    if forecast_total is None or forecast_total.empty:
        raise ForestockError(
            f"the forecast covers {days.size} days ({first} to {last}): a plan over them "
            "needs forecast_total, the quantiles of the window's total; forecast again")
    start = pd.to_datetime(forecast_total["start"]).dt.date
    end = pd.to_datetime(forecast_total["end"]).dt.date
    other = (start != first) | (end != last)
    if other.any():
        i = int(np.flatnonzero(other.to_numpy())[0])
        raise ForestockError(
            f"forecast_total, row {i + 1}: its window runs {start.iloc[i]} to {end.iloc[i]}, "
            f"the forecast's {first} to {last}; forecast again")
    national = forecast_total["region_id"].isna() | (forecast_total["region_id"] == "")
    cells = forecast_total[~national]
    per_sku = forecast_total[national].set_index("sku_id")
    if level is None:
        units = per_sku["mean"]
    elif quantile in per_sku.columns:
        units = per_sku[quantile]
    else:
        raise ForestockError(
            f"forecast_total has no column {quantile!r} (its quantiles: "
            f"{', '.join(quantile_columns(forecast_total.columns))}); plan at one of them")
    frame = cells[["sku_id", "region_id", "mean", *quantile_columns(cells.columns)]].copy()
    frame.insert(2, "date", pd.Timestamp(first))
    return frame, per_sku["mean"].astype(float), units.astype(float)


def _daily(forecast: pd.DataFrame, base: PlanProblem, days: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Each day's mean and spread ``[cell, day]`` over ``base``'s cells (a day's spread read
    from its outermost quantiles, as the demand model reads a cell's)."""
    n_r = len(base.regions)
    qcols = quantile_columns(forecast.columns)
    s = base.skus.codes(forecast["sku_id"], what="sku_id").astype(np.int64)
    r = base.regions.codes(forecast["region_id"], what="region_id")
    key = s * n_r + r
    cell_key = base.cell_sku.astype(np.int64) * n_r + base.cell_region
    cell = np.searchsorted(cell_key, key)
    known = (cell < cell_key.size) & (cell_key[np.minimum(cell, cell_key.size - 1)] == key)
    day = np.searchsorted(days, pd.to_datetime(forecast["date"]).to_numpy()
                          .astype("datetime64[D]"))
    quant = np.maximum.accumulate(forecast[qcols].to_numpy(dtype=float), axis=1)
    levels = np.array([quantile_level(c) for c in qcols])
    one = np.array([0, quant.shape[0]], dtype=np.int64)
    spread = DemandUncertainty(
        indptr=one, cell_region=np.zeros(quant.shape[0], dtype=np.int32),
        mean=forecast["mean"].to_numpy(dtype=float), quant=quant, levels=levels,
        sku_key=np.zeros(1, dtype=np.int64), region_key=np.zeros(1, dtype=np.int64)).sd()
    n_c = cell_key.size
    mean = np.zeros((n_c, days.size))
    sd = np.zeros((n_c, days.size))
    np.add.at(mean, (cell[known], day[known]), forecast["mean"].to_numpy(dtype=float)[known])
    np.add.at(sd, (cell[known], day[known]), spread[known])
    return mean, sd


def _hubs(warehouses: pd.DataFrame, base: PlanProblem
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each warehouse's hub (the ``rdc`` with the shortest lane to its region; every
    warehouse is its own hub when there is no ``rdc``), the lane's hours and cost."""
    n_w = len(base.warehouses)
    try:
        region = base.regions.codes(warehouses["region_id"], what="region_id in warehouses")
    except ValueError as err:
        raise ForestockError(f"warehouses: {err}, not in the regions table") from None
    hubs = np.flatnonzero((warehouses["tier"] == "rdc").to_numpy())
    if hubs.size == 0:
        return np.arange(n_w, dtype=np.int32), np.zeros(n_w), np.zeros(n_w)
    hours = np.where(np.isnan(base.transit), np.inf, base.transit)[hubs][:, region]
    hub = hubs[np.argmin(hours, axis=0)].astype(np.int32)
    hub[hubs] = hubs
    lane_h = base.transit[hub, region]
    lane_c = np.nan_to_num(base.lane_cost[hub, region], nan=0.0)
    is_hub = hub == np.arange(n_w)
    return hub, np.where(is_hub, 0.0, lane_h), np.where(is_hub, 0.0, lane_c)

