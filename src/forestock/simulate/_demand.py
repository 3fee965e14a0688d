"""Demand sources of a rehearsal: a scenario of the forecast's demand model, or orders."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from forestock.errors import ForestockError, TableError
from forestock.tables import IdIndex
from forestock.uncertainty import DemandUncertainty, quantile_columns

__all__ = ["day_model", "demand_from_forecast", "orders_in_day"]


def day_model(forecast: pd.DataFrame, day: dt.date, correlation: float | None = None,
              market_sd: float = 0.0) -> tuple[DemandUncertainty, np.ndarray, np.ndarray]:
    """The plan's demand model of ``day``'s forecast rows, with its cells' SKU and region ids
    (SKUs and regions coded in the order of their sorted ids, so the draws do not depend on
    the table's order); ``market_sd`` the relative error of the day's total common to every
    SKU (:meth:`~forestock.uncertainty.DemandUncertainty.with_market_sd`).

    Raises
    ------
    ForestockError
        When the forecast has no rows for ``day`` or no quantile columns.
    """
    if len(quantile_columns(forecast.columns)) < 2:
        raise ForestockError("the forecast needs at least two quantile columns (q10, q90...) "
                             "to draw scenarios from")
    rows = forecast[pd.to_datetime(forecast["date"]).dt.date == day]
    if rows.empty:
        raise ForestockError(f"the forecast has no rows for {day}")
    skus = IdIndex(np.sort(pd.unique(rows["sku_id"].astype(str))))
    regions = IdIndex(np.sort(pd.unique(rows["region_id"].astype(str))))
    model = DemandUncertainty.from_forecast(rows, skus, regions, correlation
                                            ).with_market_sd(market_sd)
    return (model, skus.ids[model.cell_sku].astype(str),
            regions.ids[model.cell_region].astype(str))


def demand_from_forecast(forecast: pd.DataFrame, day: dt.date, seed: int = 0, *,
                         scenario: int | None = None, scenarios: int = 1,
                         correlation: float | None = None,
                         day_correlation: float = 0.0, market_sd: float = 0.0
                         ) -> pd.DataFrame:
    """Draw one demand scenario for ``day`` from the forecast, with the plan's model.

    The scenario is drawn by :class:`forestock.uncertainty.DemandUncertainty`,
    the model the plan optimises against: the cells of a SKU share a national
    factor, each cell's marginal follows its quantiles, and values are rounded
    up or down at random in proportion to their fraction (expected units kept).

    Without ``scenario``, a fresh scenario of ``day``: the day enters the draws'
    hash, so each day of an event window draws its own surprise, and shares with
    the window's other days (drawn with the same ``seed``) only the part
    ``day_correlation`` says (:meth:`~forestock.uncertainty.DemandUncertainty.day_units`);
    the same seed and day give the same scenario whether the day is rehearsed
    alone or in its window. With ``scenario`` K of ``scenarios``, the plan's own
    K-th scenario (drawn with ``seed`` and ``correlation`` as the plan drew it
    from this one day's forecast): rehearsing the plan's scenarios measures what
    the plan expected.

    Parameters
    ----------
    forecast
        The ``forecast`` table (sku_id, region_id, date, mean, qNN...).
    day
        The day to rehearse.
    seed, scenario, scenarios
        Seed of the draws; which of how many of the plan's stratified scenarios to
        draw (None: a fresh scenario of the day).
    correlation
        Share of each cell's variance common to its SKU's regions; None: read
        from the forecast's dispersion (the plan's default).
    day_correlation
        Correlation of the errors (beyond a Poisson count's) of a cell's days: the
        forecast's ``correlation_days``; 0 draws the days independently. Only for a
        fresh scenario.
    market_sd
        Relative standard deviation of the day's total error common to every SKU (the
        forecast's ``market_sd``): the SKUs share a market factor, drawn with ``seed``
        alone, so a window's days share it too; 0: SKUs independent.

    Returns
    -------
    pandas.DataFrame
        sku_id, region_id, units (rows with zero units dropped).

    Raises
    ------
    ForestockError
        When the forecast has no rows for ``day`` or no quantile columns.
    """
    model, sku_ids, region_ids = day_model(forecast, day, correlation, market_sd)
    if scenario is None:
        units = model.day_units(seed, day.toordinal(), day_correlation)
    else:
        units = model.scenario_units(scenario, scenarios, seed)
    out = pd.DataFrame({"sku_id": sku_ids, "region_id": region_ids, "units": units})
    return out[out["units"] > 0].reset_index(drop=True)


def orders_in_day(orders: pd.DataFrame, day: dt.date, source: str = "orders") -> np.ndarray:
    """Seconds after ``day``'s midnight of each order; raise naming a row outside the day."""
    start = pd.Timestamp(day)
    secs = (pd.to_datetime(orders["time"]) - start).dt.total_seconds().to_numpy()
    bad = ~((secs >= 0) & (secs < 86_400))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TableError(source, row + 1, "time",
                         f"{orders['time'].iloc[row]} is outside the rehearsed day {day}")
    return secs.astype(np.float64)
