"""Forecast units per SKU, region and date for an event window, with quantiles.

This first engine is the planner's classic: last year's occurrence of the
event, aligned day by day, scaled by each SKU's recent growth (shrunk toward
the national growth). SKUs too new to have sold in last year's event take
their recent regional rate times the event's national lift.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.events import Window, next_window, occurrences

__all__ = ["ForecastParams", "SeasonalNaive", "forecast", "target_window"]

log = logging.getLogger("forestock.forecast")

_YEAR = pd.Timedelta(days=364)  # 52 weeks: the same weekday a year earlier


@dataclass(frozen=True)
class ForecastParams:
    """Settings of the seasonal-naive engine.

    Parameters
    ----------
    quantiles
        Quantile levels to output besides the mean, each in (0, 1).
    growth_days
        Days at the end of the history compared with the same days a year
        earlier to measure growth.
    shrink
        Units of evidence a SKU needs before its own growth outweighs the
        national growth.
    """

    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    growth_days: int = 56
    shrink: float = 50.0

    def __post_init__(self) -> None:
        if not self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must lie in (0, 1), got {self.quantiles}")
        if len({round(q * 100) for q in self.quantiles}) != len(self.quantiles):
            raise ValueError(f"quantiles must differ in whole percents, got {self.quantiles}")
        if self.growth_days < 7:
            raise ValueError(f"growth_days must be >= 7, got {self.growth_days}")
        if self.shrink < 0:
            raise ValueError(f"shrink must be >= 0, got {self.shrink}")


def target_window(
    calendar: pd.DataFrame,
    history_end: dt.date,
    event: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Window:
    """The window to forecast: the next occurrence of ``event``, or ``start``..``end``."""
    if event is not None:
        return next_window(calendar, event, history_end)
    if start is None or end is None:
        raise ForestockError("give an event (--event NAME) or a window (--start D --end D)")
    if end < start:
        raise ForestockError(f"the window ends ({end}) before it starts ({start})")
    if start <= history_end:
        raise ForestockError(f"the window starts {start}, inside the history (ends {history_end})")
    return Window("custom", start, end)


class SeasonalNaive:
    """Last year's event, aligned by event day, scaled by growth.

    ``fit`` learns levels from the history; ``predict`` returns the long
    forecast table for a window.
    """

    def __init__(self, params: ForecastParams | None = None) -> None:
        self.params = params or ForecastParams()

    def fit(
        self,
        history: pd.DataFrame,
        calendar: pd.DataFrame,
        skus: pd.DataFrame | None = None,
        regions: pd.DataFrame | None = None,
    ) -> SeasonalNaive:
        """Remember the history, its ids and its last date."""
        if history.empty:
            raise ForestockError("history is empty: nothing to forecast from")
        self.history_ = history[["date", "sku_id", "region_id", "units"]].copy()
        self.history_["date"] = pd.to_datetime(self.history_["date"])
        self.calendar_ = calendar
        self.end_ = self.history_["date"].max().date()
        self.start_ = self.history_["date"].min().date()
        self.skus_ = (pd.Index(skus["sku_id"]) if skus is not None
                      else pd.Index(pd.unique(self.history_["sku_id"])))
        self.regions_ = (pd.Index(regions["region_id"]) if regions is not None
                         else pd.Index(pd.unique(self.history_["region_id"])))
        return self

    def _reference(self, window: Window) -> pd.DatetimeIndex:
        """The dates a year or an occurrence earlier that each window date is aligned with."""
        if window.event != "custom":
            earlier = [w for w in occurrences(self.calendar_, window.event)
                       if w.end <= self.end_ and w.start >= self.start_]
            if not earlier:
                raise ForestockError(
                    f"the history ({self.start_} to {self.end_}) holds no earlier occurrence "
                    f"of {window.event!r} to align with"
                )
            prev = earlier[-1]
            offsets = np.minimum(np.arange(window.days), prev.days - 1)
            return pd.DatetimeIndex(pd.Timestamp(prev.start) + pd.to_timedelta(offsets, "D"))
        ref = window.dates() - _YEAR
        if ref[0].date() < self.start_:
            raise ForestockError(
                f"the window {window.start}..{window.end} needs history a year earlier "
                f"(from {ref[0].date()}); the history starts {self.start_}"
            )
        return ref

    def predict(self, window: Window) -> pd.DataFrame:
        """Forecast every SKU and region on every date of ``window`` (long table)."""
        p = self.params
        h = self.history_
        ref = self._reference(window)
        end = pd.Timestamp(self.end_)
        recent_from = end - pd.Timedelta(days=p.growth_days - 1)
        # growth compares ordinary days only: event days a year apart rarely line up
        event_days = pd.DatetimeIndex(pd.to_datetime(self.calendar_["date"]))
        ordinary = ~h["date"].isin(event_days)
        recent = h[(h["date"] >= recent_from) & ordinary]
        base = h[(h["date"] >= recent_from - _YEAR) & (h["date"] <= end - _YEAR) & ordinary]
        n_recent = max(int((~pd.date_range(recent_from, end).isin(event_days)).sum()), 1)
        n_base = max(int((~pd.date_range(recent_from - _YEAR, end - _YEAR)
                          .isin(event_days)).sum()), 1)
        # recent units rescaled to the base window's number of ordinary days
        rec_sku = recent.groupby("sku_id", observed=True)["units"].sum() * (n_base / n_recent)
        base_sku = base.groupby("sku_id", observed=True)["units"].sum()
        national = float(rec_sku.sum()) / max(float(base_sku.sum()), 1.0)
        rec_sku = rec_sku.reindex(self.skus_, fill_value=0).astype(float)
        base_sku = base_sku.reindex(self.skus_, fill_value=0).astype(float)
        growth = ((rec_sku + p.shrink * national) / (base_sku + p.shrink)).clip(0.2, 5.0)
        logs = np.log((rec_sku + 1) / (base_sku + 1))
        spread = float(np.clip(1.4826 * np.median(np.abs(logs - np.median(logs))), 0.1, 1.0))

        n_s, n_r, n_d = len(self.skus_), len(self.regions_), window.days
        ref_units = h[h["date"].isin(ref)]
        # last year's units aligned: [sku, region, day]
        cube = np.zeros((n_s, n_r, n_d))
        s_i = self.skus_.get_indexer(ref_units["sku_id"])
        r_i = self.regions_.get_indexer(ref_units["region_id"])
        ok = (s_i >= 0) & (r_i >= 0)
        for d, day in enumerate(ref):
            on = ok & (ref_units["date"] == day).to_numpy()
            np.add.at(cube[:, :, d], (s_i[on], r_i[on]), ref_units["units"].to_numpy()[on])
        mean = cube * growth.to_numpy()[:, None, None]

        # SKUs that did not sell in last year's event: recent regional rate x the event's lift
        before = h[(h["date"] < ref[0]) & (h["date"] >= ref[0] - pd.Timedelta(days=p.growth_days))]
        daily_before = float(before["units"].sum()) / p.growth_days
        lift = cube.sum(axis=(0, 1)) / max(daily_before, 1e-9)
        rate = np.zeros((n_s, n_r))
        rs = self.skus_.get_indexer(recent["sku_id"])
        rr = self.regions_.get_indexer(recent["region_id"])
        keep = (rs >= 0) & (rr >= 0)
        np.add.at(rate, (rs[keep], rr[keep]), recent["units"].to_numpy()[keep] / n_recent)
        new = cube.sum(axis=(1, 2)) == 0
        mean[new] = rate[new][:, :, None] * lift[None, None, :]

        out = pd.DataFrame({
            "sku_id": np.repeat(self.skus_.to_numpy(dtype=object), n_r * n_d),
            "region_id": np.tile(np.repeat(self.regions_.to_numpy(dtype=object), n_d), n_s),
            "date": np.tile(window.dates().to_numpy(), n_s * n_r),
            "mean": mean.ravel(),
        })
        m = out["mean"].to_numpy()
        sd = np.sqrt(m + (spread * m) ** 2)
        for q in sorted({*p.quantiles, 0.1, 0.5, 0.9}):
            z = NormalDist().inv_cdf(q)
            out[f"q{round(q * 100):02d}"] = np.maximum(m + z * sd, 0.0)
        log.info("forecast %s..%s: growth %.3f, spread %.3f", window.start, window.end,
                 national, spread)
        return out


def forecast(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    window: Window,
    skus: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    params: ForecastParams | None = None,
) -> pd.DataFrame:
    """Fit the engine on ``history`` and forecast ``window`` (the ``forecast`` table)."""
    return SeasonalNaive(params).fit(history, calendar, skus, regions).predict(window)
