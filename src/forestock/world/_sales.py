"""The sales process: a separable expected rate per SKU, with gamma-Poisson draws.

The expected units of one SKU on day ``d`` in region ``r`` are
``a[d] * b[r]``: ``a`` is the SKU's national daily curve (trend, weekly and
yearly seasonality, events, launch, discontinuation and a gamma day shock)
and ``b`` its regional shares (population times the region's taste for the
category, summing to 1). Units are Poisson given the rate.

The 11.11 season's first days sell more than that rate: their extra units are
Poisson with rate ``a[d] * b[r] * (g[d] - 1)`` (the SKU's season lift ``g``),
drawn from a stream of their own and added, so the season's days sell
``a[d] * b[r] * g[d]`` in all and every other day's draw stays as it was.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from forestock.world._calendar import event_log_multipliers, season_log_lift
from forestock.world._catalogue import CATEGORIES, Catalogue

__all__ = ["SalesModel", "draw_cells", "regional_taste"]

# yearly amplitude (log), peak day of year
_YEARLY = {
    "beauty": (0.10, 350), "apparel": (0.35, 355), "electronics": (0.10, 250),
    "appliances": (0.25, 200), "food": (0.20, 20), "baby": (0.05, 100), "home": (0.12, 80),
    "sports": (0.20, 170), "health": (0.15, 15), "pet": (0.05, 100),
}
# weekend uplift
_WEEKEND = {"beauty": 0.15, "apparel": 0.20, "electronics": 0.0, "appliances": 0.05,
            "food": 0.10, "baby": 0.0, "home": 0.10, "sports": 0.15, "health": -0.05, "pet": 0.0}
_LAUNCH_RAMP_DAYS = 14.0
_REGION_NOISE = 0.25
#: A SKU whose expected units exceed this share of its cells is drawn cell by cell.
_DENSE_FILL = 0.25


def regional_taste(seed: int, region_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                   population: np.ndarray) -> np.ndarray:
    """Return the regional shares per category, shape (categories, regions), rows summing to 1.

    Population weighs every region; a seeded taste per region and category
    (drawn from an RNG keyed by the seed and the region's adcode, so it does
    not depend on which other regions are chosen) scales it, with cosmetics
    stronger in big coastal cities, warm apparel in the north, air
    conditioners in the south and online shopping in general in the east.
    """
    z = np.stack([np.random.default_rng([seed, 3, int(r)]).normal(size=len(CATEGORIES))
                  for r in region_ids], axis=1)
    log_t = 0.2 * z
    big_coast = (population >= 3_000_000) & (lon >= 112.0)
    log_t[CATEGORIES.index("beauty")] += 0.35 * big_coast
    log_t[CATEGORIES.index("apparel")] += 0.3 * np.clip((lat - 30.0) / 10.0, -1.0, 1.0)
    log_t[CATEGORIES.index("appliances")] += 0.2 * (lat < 30.0)
    log_t += 0.25 * (lon >= 110.0)
    w = population[None, :] * np.exp(log_t)
    return w / w.sum(axis=1, keepdims=True)


class SalesModel:
    """Day-level drivers over the whole window (history then truth).

    Parameters
    ----------
    start
        First day of the window.
    days
        Days in the window.
    reference_day
        Day index at which a SKU sells its ``base`` (trend is 1 there).
    event_lift
        Multiplier of the 11.11 day.
    season_lift
        Multiplier of the 11.11 season's first wave over its presale-lull rate.
    """

    def __init__(self, start: dt.date, days: int, reference_day: int, event_lift: float,
                 season_lift: float = 1.0) -> None:
        self.start = start
        self.days = days
        idx = np.arange(days)
        dates = np.datetime64(start, "D") + idx
        dow = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        weekly = np.empty((len(CATEGORIES), days))
        yearly = np.empty((len(CATEGORIES), days))
        for c, name in enumerate(CATEGORIES):
            w = np.where(dow >= 5, 1.0 + _WEEKEND[name], 1.0)
            weekly[c] = np.log(w * 7.0 / (5.0 + 2.0 * (1.0 + _WEEKEND[name])))
            amp, peak = _YEARLY[name]
            yearly[c] = amp * np.cos(2.0 * np.pi * (doy - peak) / 365.25)
        self._season = weekly + yearly
        self._peaks, self._lulls = event_log_multipliers(start, days, event_lift)
        self._sale_season = season_log_lift(start, days, season_lift)
        self._years = (idx - reference_day) / 365.25
        #: Day indices of the season's extra sales (the season's days before 11.11).
        self.season_days = np.flatnonzero(self._sale_season > 0)

    def season_extra(self, cat: Catalogue, skus: np.ndarray) -> np.ndarray:
        """The season's extra rate per SKU on :attr:`season_days`, as a multiple of the
        day's own rate (``g - 1``, the SKU's lift scaled by its peak response), shape
        (len(skus), len(season_days))."""
        log_g = cat.peak_response[skus, None] * self._sale_season[None, self.season_days]
        return np.asarray(np.expm1(log_g))

    def expected(self, cat: Catalogue, skus: np.ndarray, days: np.ndarray | None = None,
                 *, season: bool = True) -> np.ndarray:
        """Expected national units per SKU and day (no shock), shape (len(skus), len(days));
        with ``season`` False, without the 11.11 season's extra units."""
        d = np.arange(self.days) if days is None else np.asarray(days)
        log_a = (np.log(cat.base[skus])[:, None]
                 + np.log1p(cat.growth[skus])[:, None] * self._years[None, d]
                 + self._season[cat.category[skus]][:, d]
                 + cat.peak_response[skus, None] * self._peaks[None, d]
                 + cat.lull_response[skus, None] * self._lulls[None, d])
        if season:
            log_a = log_a + cat.peak_response[skus, None] * self._sale_season[None, d]
        a = np.exp(log_a)
        launch = cat.launch[skus][:, None]
        since = d[None, :] - launch
        ramp = np.where(since >= 0, 1.0 - np.exp(-(since + 1) / _LAUNCH_RAMP_DAYS), 0.0)
        a *= np.where(launch >= 0, ramp, 1.0)
        stop = cat.stop[skus][:, None]
        a *= np.where((stop >= 0) & (d[None, :] >= stop), 0.0, 1.0)
        return a


def draw_cells(rng: np.random.Generator, a: np.ndarray, b: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Draw independent Poisson units with rate ``a[d] * b[r]`` for every cell.

    Parameters
    ----------
    rng
        The SKU's generator.
    a
        National expected units per day, shape (days,).
    b
        Regional shares, shape (regions,), summing to 1.

    Returns
    -------
    cells, units
        Flat cell index ``d * len(b) + r`` of every cell with units, ascending,
        and its units (``int64``, all > 0).

    Notes
    -----
    A busy SKU is drawn cell by cell. A slow one draws its total
    ``N ~ Poisson(sum a)`` and places each unit on a day drawn from ``a /
    sum a`` and a region drawn from ``b``, independently: given independent
    Poisson cells, the total is Poisson and the units are multinomial over the
    cells with probabilities ``a[d] b[r] / sum a``, so the two are equal in
    distribution.
    """
    n_days, n_regions = a.size, b.size
    total = float(a.sum())
    if total > _DENSE_FILL * n_days * n_regions:
        units = rng.poisson(np.outer(a, b)).ravel()
        cells = np.flatnonzero(units)
        return cells, units[cells].astype(np.int64)
    n = int(rng.poisson(total))
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ca = np.cumsum(a)
    cb = np.cumsum(b)
    day = np.searchsorted(ca, rng.random(n) * ca[-1], side="right")
    reg = np.searchsorted(cb, rng.random(n) * cb[-1], side="right")
    day = np.minimum(day, n_days - 1)
    reg = np.minimum(reg, n_regions - 1)
    cells, units = np.unique(day * n_regions + reg, return_counts=True)
    return cells.astype(np.int64), units.astype(np.int64)
