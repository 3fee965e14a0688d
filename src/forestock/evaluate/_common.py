"""Pieces the evaluation generators share: the data set, the day grid, noise and tables.

Every generator builds its expected demand as a dense ``[day, sku, region]``
array of floats, draws counts around it, and turns both into the long tables
of :mod:`forestock.tables` with the helpers here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestock.events import Window

SIZES = ("small", "full")
"""Instance sizes every generator accepts."""

RegionRow = tuple[str, str, str, float, float, int]
"""``(region_id, name, province, lat, lon, population)``."""


@dataclass(frozen=True, eq=False)
class DataSet:
    """A synthetic retail data set whose expected demand in the target window is known.

    Compared by identity (the fields are data frames); compare tables one by one.

    Parameters
    ----------
    name
        The generator's name, a key of :data:`forestock.evaluate.GENERATORS`.
    description
        One paragraph on the structure the generator builds in.
    history
        Units sold: ``date`` (``datetime64``), ``sku_id``, ``region_id``,
        ``units`` (``int64``, positive; absent rows are zero). Covers the whole
        span including the target window, so a backtest may hold out any window.
    calendar
        ``date``, ``event``: one row per date and event (a date carries zero,
        one or two events) over the whole span, the target window included.
    window
        The target occurrence: the last one of its event, ending on the last
        date of the history.
    lead_days
        The forecast is made from history ending ``lead_days`` before
        ``window.start`` (see :attr:`origin`).
    true_mean
        ``date``, ``sku_id``, ``region_id``, ``mean``: the generator's expected
        units for every SKU, region and date of the window (dense), averaged
        over the SKU-day shocks and the count noise but given every drawn
        parameter (levels, trends, launches, lifts, prices, steps).
    skus
        ``sku_id``, ``brand_id``, ``category``, ``price``, ``volume_l``.
    regions
        ``region_id``, ``name``, ``province``, ``lat``, ``lon``, ``population``.
    prices
        Planned prices known in advance (``date``, ``sku_id``, ``region_id``
        empty for every region, ``price``), one row per SKU and date of the
        span, or ``None`` where the generator has no price promotions.
    """

    name: str
    description: str
    history: pd.DataFrame
    calendar: pd.DataFrame
    window: Window
    lead_days: int
    true_mean: pd.DataFrame
    skus: pd.DataFrame
    regions: pd.DataFrame
    prices: pd.DataFrame | None = None

    @property
    def origin(self) -> dt.date:
        """The last date of history a forecast of the window may read."""
        return self.window.start - dt.timedelta(days=self.lead_days)


def check_size(size: str) -> None:
    """Raise ``ValueError`` unless ``size`` is one of :data:`SIZES`."""
    if size not in SIZES:
        raise ValueError(f"size={size!r} is invalid: use one of {', '.join(SIZES)}")


@dataclass(frozen=True, eq=False)
class DayGrid:
    """The day axis of a data set: consecutive dates with their calendar features.

    Parameters
    ----------
    dates
        Consecutive dates, one per day.
    """

    dates: pd.DatetimeIndex

    @classmethod
    def between(cls, start: dt.date, end: dt.date) -> DayGrid:
        """Every date from ``start`` to ``end``, both included."""
        return cls(pd.date_range(start, end, freq="D"))

    @property
    def n(self) -> int:
        """Number of days."""
        return len(self.dates)

    @property
    def weekday(self) -> np.ndarray:
        """Day of the week of each date, Monday 0 to Sunday 6."""
        return np.asarray(self.dates.dayofweek, dtype=np.int64)

    @property
    def day_of_year(self) -> np.ndarray:
        """Day of the year of each date, 0 on 1 January."""
        return np.asarray(self.dates.dayofyear, dtype=np.float64) - 1.0

    def at(self, day: dt.date) -> int:
        """Index of ``day`` (which may lie outside the grid: negative or past the end)."""
        return (day - self.dates[0].date()).days

    def years_from(self, day: dt.date) -> np.ndarray:
        """Years (of 365.25 days) from ``day`` to each date, negative before it."""
        return (np.arange(self.n, dtype=np.float64) - self.at(day)) / 365.25

    def span(self, start: dt.date, days: int) -> slice:
        """Slice of the ``days`` dates from ``start``, clipped to the grid."""
        first = self.at(start)
        return slice(min(max(first, 0), self.n), min(max(first + days, 0), self.n))


def multiply_span(
    values: np.ndarray, grid: DayGrid, start: dt.date, factor: np.ndarray
) -> None:
    """Multiply ``values[day, ...]`` in place by ``factor[k, ...]`` on day ``start + k``.

    Days of the span outside the grid are skipped.
    """
    first = grid.at(start)
    lo, hi = max(first, 0), min(first + len(factor), grid.n)
    if lo < hi:
        values[lo:hi] *= factor[lo - first : hi - first]


def days_from(start: dt.date, days: int) -> list[dt.date]:
    """The ``days`` consecutive dates from ``start``."""
    return [start + dt.timedelta(days=k) for k in range(days)]


def allocate(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    """Codes ``0..len(weights)-1`` for ``n`` items in proportion to ``weights``, shuffled.

    Counts follow the largest remainders, and each code gets at least one item
    when ``n`` allows, so a small instance still holds every kind.
    """
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    k = len(w)
    floor = np.ones(k, dtype=np.int64) if n >= k else np.zeros(k, dtype=np.int64)
    rest = n - int(floor.sum())
    exact = w * rest
    counts = floor + np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    counts[order[:short]] += 1
    return rng.permutation(np.repeat(np.arange(k), counts))


def mean_one_lognormal(
    rng: np.random.Generator, sigma: np.ndarray | float, size: tuple[int, ...]
) -> np.ndarray:
    """Lognormal draws with mean exactly 1: ``exp(sigma * z - sigma**2 / 2)``."""
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), size)
    return np.exp(sig * rng.standard_normal(size) - 0.5 * sig**2)


def weekly_profiles(
    rng: np.random.Generator, archetypes: Sequence[Sequence[float]], jitter: float
) -> np.ndarray:
    """``[group, weekday]`` multipliers, each row an archetype jittered and scaled to mean 1."""
    base = np.asarray(archetypes, dtype=np.float64)
    prof = base * np.exp(jitter * rng.standard_normal(base.shape))
    return prof / prof.mean(axis=1, keepdims=True)


def seasonal_bumps(
    day_of_year: np.ndarray, bumps: Sequence[tuple[float, float, float]]
) -> np.ndarray:
    """Yearly multiplier from Gaussian bumps on the circle of days.

    Each bump is ``(peak day of year, width in days, log amplitude)``; a
    negative amplitude is a trough.
    """
    log_mult = np.zeros_like(day_of_year, dtype=np.float64)
    for peak, width, amp in bumps:
        dist = (day_of_year - peak + 182.625) % 365.25 - 182.625
        log_mult += amp * np.exp(-0.5 * (dist / width) ** 2)
    return np.exp(log_mult)


def regional_shares(
    rng: np.random.Generator,
    population: np.ndarray,
    category: np.ndarray,
    n_categories: int,
    *,
    reach: float,
    taste: float,
    sku_taste: float,
) -> np.ndarray:
    """``[sku, region]`` shares of a SKU's demand, each row averaging 1 over the regions.

    A region's pull is ``population**reach`` times a lognormal taste per
    category and region (``taste``), times a smaller one per SKU and region
    (``sku_taste``): regions' shares of a category differ from their shares of
    another.
    """
    n_regions = len(population)
    pull = np.asarray(population, dtype=np.float64) ** reach
    cat_taste = np.exp(taste * rng.standard_normal((n_categories, n_regions)))
    own = np.exp(sku_taste * rng.standard_normal((len(category), n_regions)))
    share = pull[None, :] * cat_taste[category] * own
    return share / share.mean(axis=1, keepdims=True)


def launch_factor(n_days: int, launch: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``[day, sku]`` ramp: 0 before a SKU's launch day, then ``1 - exp(-age / tau)``.

    ``launch`` holds day indices (very negative for SKUs on sale from the start).
    """
    age = np.arange(n_days, dtype=np.float64)[:, None] - launch[None, :].astype(np.float64)
    return np.where(age >= 0, 1.0 - np.exp(-(age + 1.0) / tau[None, :]), 0.0)


def discontinue_factor(n_days: int, last: np.ndarray, rundown: np.ndarray) -> np.ndarray:
    """``[day, sku]`` factor: 1, then a linear run-down to 0.4 over ``rundown`` days, then 0.

    ``last`` is the index of the first day without sales (past the grid for
    SKUs still sold).
    """
    day = np.arange(n_days, dtype=np.float64)[:, None]
    left = last[None, :].astype(np.float64) - day
    fading = 0.4 + 0.6 * np.clip(left / rundown[None, :], 0.0, 1.0)
    return np.where(left <= 0, 0.0, fading)


def negative_binomial_counts(
    rng: np.random.Generator, mean: np.ndarray, shock_sigma: np.ndarray, dispersion: np.ndarray
) -> np.ndarray:
    """Counts around ``mean[day, sku, region]`` with a SKU-day shock shared by the regions.

    Each SKU and day draws a mean-one lognormal shock (``shock_sigma`` per
    SKU) multiplying all its regions' rates; each cell then draws a
    gamma-Poisson (negative binomial) count with shape ``dispersion`` per SKU.
    The expectation of the counts is ``mean``.
    """
    n_days, n_skus = mean.shape[:2]
    shock = mean_one_lognormal(rng, shock_sigma[None, :], (n_days, n_skus))
    shape = np.broadcast_to(dispersion[None, :, None], mean.shape)
    rate = mean * shock[:, :, None] * rng.gamma(shape, 1.0 / shape)
    return rng.poisson(rate).astype(np.int64)


def history_frame(
    grid: DayGrid, sku_ids: np.ndarray, region_ids: np.ndarray, units: np.ndarray
) -> pd.DataFrame:
    """The sparse ``history`` table of ``units[day, sku, region]`` (zero cells left out)."""
    d, s, r = np.nonzero(units)
    return pd.DataFrame({
        "date": grid.dates.values[d],
        "sku_id": sku_ids[s],
        "region_id": region_ids[r],
        "units": units[d, s, r].astype(np.int64),
    })


def window_mean_frame(
    grid: DayGrid,
    window: Window,
    sku_ids: np.ndarray,
    region_ids: np.ndarray,
    mean: np.ndarray,
) -> pd.DataFrame:
    """The dense ``true_mean`` table of ``mean[day, sku, region]`` over the window's dates."""
    part = mean[grid.span(window.start, window.days)]
    d, s, r = (idx.ravel() for idx in np.indices(part.shape))
    return pd.DataFrame({
        "date": window.dates().values[d],
        "sku_id": sku_ids[s],
        "region_id": region_ids[r],
        "mean": part.ravel().astype(np.float64),
    })


def calendar_frame(
    events: Iterable[tuple[str, Sequence[dt.date]]], grid: DayGrid
) -> pd.DataFrame:
    """The ``calendar`` table from ``(event, dates)`` pairs on the grid, sorted by date, event."""
    first, last = grid.dates[0].date(), grid.dates[-1].date()
    rows = [
        (pd.Timestamp(day), name)
        for name, days in events
        for day in days
        if first <= day <= last
    ]
    frame = pd.DataFrame(rows, columns=["date", "event"])
    return frame.sort_values(["date", "event"], kind="stable").reset_index(drop=True)


def regions_frame(rows: Sequence[RegionRow]) -> pd.DataFrame:
    """The ``regions`` table from ``(region_id, name, province, lat, lon, population)`` rows."""
    frame = pd.DataFrame(
        list(rows), columns=["region_id", "name", "province", "lat", "lon", "population"]
    )
    return frame.astype({"lat": np.float64, "lon": np.float64, "population": np.int64})


def skus_frame(
    rng: np.random.Generator,
    prefix: str,
    category: np.ndarray,
    names: Sequence[str],
    price_range: Sequence[tuple[float, float]],
    volume_range: Sequence[tuple[float, float]],
    *,
    price_step: float,
    brands_per_category: int,
) -> pd.DataFrame:
    """The ``skus`` table: ids ``{prefix}0001...``, log-uniform prices and volumes by category.

    Prices are rounded to ``price_step``; brands are ``{prefix}B`` plus the
    category and brand numbers, a few per category.
    """
    n = len(category)
    lo_p, hi_p = (np.asarray(v, dtype=np.float64)[category] for v in zip(*price_range, strict=True))
    lo_v, hi_v = (
        np.asarray(v, dtype=np.float64)[category] for v in zip(*volume_range, strict=True)
    )
    price = np.exp(rng.uniform(np.log(lo_p), np.log(hi_p)))
    price = np.maximum(np.round(price / price_step) * price_step, price_step)
    volume = np.round(np.exp(rng.uniform(np.log(lo_v), np.log(hi_v))), 3)
    brand = rng.integers(0, brands_per_category, size=n)
    return pd.DataFrame({
        "sku_id": sku_ids(prefix, n),
        "brand_id": [f"{prefix}B{c:02d}{b:02d}" for c, b in zip(category, brand, strict=True)],
        "category": np.asarray(names, dtype=object)[category],
        "price": price.astype(np.float64),
        "volume_l": np.maximum(volume, 0.001).astype(np.float64),
    })


def sku_ids(prefix: str, n: int) -> np.ndarray:
    """``n`` SKU ids ``{prefix}0001``, ``{prefix}0002``, ... as an object array."""
    return np.asarray([f"{prefix}{k:04d}" for k in range(1, n + 1)], dtype=object)
