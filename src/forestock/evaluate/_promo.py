"""``promo``: a US retailer with price promotions and short events on moving dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestock.evaluate._common import (
    DataSet,
    DayGrid,
    RegionRow,
    allocate,
    calendar_frame,
    check_size,
    days_from,
    discontinue_factor,
    history_frame,
    launch_factor,
    multiply_span,
    negative_binomial_counts,
    regional_shares,
    regions_frame,
    seasonal_bumps,
    skus_frame,
    weekly_profiles,
    window_mean_frame,
)
from forestock.events import Window

# Twelve of the most populous US states, named after their largest metro; population of 2023.
STATES: tuple[RegionRow, ...] = (
    ("US-CA", "Los Angeles", "California", 34.052, -118.244, 38_965_000),
    ("US-TX", "Houston", "Texas", 29.760, -95.370, 30_503_000),
    ("US-FL", "Miami", "Florida", 25.762, -80.192, 22_610_000),
    ("US-NY", "New York", "New York", 40.713, -74.006, 19_571_000),
    ("US-IL", "Chicago", "Illinois", 41.878, -87.630, 12_549_000),
    ("US-PA", "Philadelphia", "Pennsylvania", 39.953, -75.165, 12_961_000),
    ("US-OH", "Columbus", "Ohio", 39.961, -82.999, 11_785_000),
    ("US-GA", "Atlanta", "Georgia", 33.749, -84.388, 11_029_000),
    ("US-NC", "Charlotte", "North Carolina", 35.227, -80.843, 10_835_000),
    ("US-MI", "Detroit", "Michigan", 42.331, -83.046, 10_037_000),
    ("US-WA", "Seattle", "Washington", 47.606, -122.332, 7_812_000),
    ("US-MA", "Boston", "Massachusetts", 42.360, -71.059, 7_001_000),
)

START = dt.date(2023, 6, 1)
TARGET_YEAR = 2025
EVENT = "black_friday"
DEPTHS = np.round(np.arange(0.10, 0.501, 0.05), 2)  # depths of the everyday promotions
PROMOS_PER_YEAR = 4.5
LAUNCH_DEAL = (10, 0.2)  # days and depth of the introductory price of a new SKU
PULL_DAYS = 7  # days a stockpiling category buys less after a promotion ends


@dataclass(frozen=True)
class _Event:
    """A short sale event: traffic on its days and price deals on some SKUs."""

    name: str
    starts: tuple[dt.date, ...]
    profile: tuple[float, ...]  # traffic intensity per day (the lift above 1 scales by it)
    deal_share: float  # share of SKUs on deal (times the category's own appetite)
    depth: tuple[float, float]  # range of the deal depth


def _thanksgiving(year: int) -> dt.date:
    """The fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    return first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)


def _spring_sale(year: int) -> dt.date:
    """The first Friday on or after 20 March."""
    day = dt.date(year, 3, 20)
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


EVENTS = (
    _Event("black_friday",
           tuple(_thanksgiving(y) + dt.timedelta(days=1) for y in (2023, 2024, 2025)),
           (1.0, 0.7, 0.6, 0.9), 0.55, (0.2, 0.5)),
    _Event("prime_day", (dt.date(2023, 7, 11), dt.date(2024, 7, 16), dt.date(2025, 7, 8)),
           (0.7, 0.6, 0.5, 0.45), 0.4, (0.15, 0.4)),
    _Event("fall_deals", (dt.date(2023, 10, 10), dt.date(2024, 10, 8), dt.date(2025, 10, 7)),
           (0.4, 0.35), 0.3, (0.1, 0.3)),
    _Event("spring_sale", tuple(_spring_sale(y) for y in (2024, 2025)),
           (0.3, 0.25, 0.25), 0.25, (0.1, 0.25)),
)
# Prime Day lasted two days in 2023 and 2024, four in 2025.
EVENT_DAYS = {("prime_day", 2023): 2, ("prime_day", 2024): 2}
CHRISTMAS = tuple(dt.date(y, 12, 25) for y in (2023, 2024))


@dataclass(frozen=True)
class _Category:
    """A product category of the promotions retailer."""

    name: str
    weight: float
    weekly: tuple[float, ...]  # Monday..Sunday archetype
    bumps: tuple[tuple[float, float, float], ...]  # yearly (peak day, width, log amplitude)
    elasticity: float  # units scale like (price / regular) ** -elasticity
    traffic: float  # lift of the Black Friday weekend's first day at the regular price
    deal_appetite: float  # multiplies an event's share of SKUs on deal
    pull: float  # post-promotion dip per unit of depth (stockpiling)
    price: tuple[float, float]  # USD
    volume: tuple[float, float]  # litres


CATEGORIES = (
    _Category("electronics", 0.16, (1.04, 1.02, 1.0, 0.98, 0.93, 0.95, 1.08),
              ((350, 12, 0.45), (225, 12, 0.2)), 2.6, 2.0, 1.4, 0.0, (15.0, 900.0), (0.2, 30.0)),
    _Category("toys", 0.12, (1.0, 0.98, 0.97, 0.97, 0.98, 1.03, 1.07),
              ((352, 11, 1.0), (170, 30, -0.1)), 2.2, 1.8, 1.2, 0.0, (8.0, 120.0), (0.5, 25.0)),
    _Category("beauty", 0.14, (1.06, 1.03, 1.0, 0.98, 0.94, 0.94, 1.05),
              ((350, 10, 0.35), (130, 6, 0.25)), 1.8, 1.6, 1.0, 0.3, (6.0, 90.0), (0.05, 0.5)),
    _Category("apparel", 0.16, (1.02, 0.99, 0.98, 0.98, 0.96, 1.0, 1.07),
              ((90, 30, 0.15), (235, 18, 0.15), (350, 14, 0.2)), 2.0, 1.7, 1.0, 0.0,
              (12.0, 180.0), (0.3, 4.0)),
    _Category("home", 0.14, (1.05, 1.02, 1.0, 0.98, 0.94, 0.96, 1.05),
              ((110, 40, 0.15),), 1.6, 1.5, 0.9, 0.0, (10.0, 400.0), (1.0, 80.0)),
    _Category("grocery", 0.14, (1.08, 1.04, 1.0, 0.98, 0.95, 0.96, 0.99),
              ((328, 8, 0.2),), 1.3, 1.15, 0.5, 0.5, (2.0, 25.0), (0.3, 6.0)),
    _Category("household", 0.14, (1.07, 1.03, 1.0, 0.98, 0.95, 0.96, 1.01),
              ((95, 20, 0.1),), 2.8, 1.3, 0.8, 0.7, (4.0, 45.0), (0.5, 15.0)),
)

DESCRIPTION = (
    "A US online retailer, daily from 2023-06-01 to 2025-12-01, 200 SKUs in seven categories "
    "over 12 states (small: 30 SKUs, 5 states). Prices are planned and known in advance (the "
    "prices table): each SKU runs about 4.5 promotions a year of 3-14 days at 10-50% off, new "
    "SKUs start with 10 days at 20% off, and short events on moving dates put a share of SKUs "
    "on deep deals (black_friday: the four days from the day after the fourth Thursday of "
    "November, the Monday also cyber_monday, 20-50% off on about half the SKUs; prime_day in "
    "July; fall_deals in October; spring_sale in March) on top of an event traffic lift by "
    "category and SKU. Units scale like (price/regular)^-elasticity with an elasticity per "
    "category and SKU (1.3 for grocery to 2.8 for household goods); stockpiled categories "
    "buy less for a week after a promotion. Yearly seasons: a December gift peak for toys, "
    "electronics and beauty, back-to-school, Mother's Day, Thanksgiving groceries, a quiet "
    "Christmas Day. A fifth of SKUs grow fast (x1.6-3 a year), a fifth decline, some launch "
    "during history, a few are discontinued. Counts are negative binomial around the mean "
    "times a mean-one lognormal SKU-day shock shared by the states; true_mean excludes the "
    "realised shock. Target: the last black_friday (28 November-1 December 2025), forecast "
    "14 days ahead."
)


def promo(seed: int = 0, size: str = "full") -> DataSet:
    """Generate the ``promo`` data set (see :data:`DESCRIPTION`).

    Parameters
    ----------
    seed
        Seeds the one random generator; the same seed gives identical tables.
    size
        ``"full"`` (200 SKUs, 12 states) or ``"small"`` (30 SKUs, 5 states).

    Returns
    -------
    DataSet
        Target window: black_friday 2025, four days at the end of the history,
        with the planned ``prices`` over the whole span. ``true_mean`` is the
        mean before the SKU-day shock (whose mean is 1).
    """
    check_size(size)
    rng = np.random.default_rng(seed)
    n_skus, regions = (200, STATES) if size == "full" else (30, STATES[:5])
    target = EVENTS[0].starts[-1]
    window = Window(EVENT, target, target + dt.timedelta(days=len(EVENTS[0].profile) - 1))
    lead_days = 14
    origin = window.start - dt.timedelta(days=lead_days)
    grid = DayGrid.between(START, window.end)
    n_days = grid.n

    category = allocate(rng, [c.weight for c in CATEGORIES], n_skus)
    skus = skus_frame(
        rng, "P", category, [c.name for c in CATEGORIES], [c.price for c in CATEGORIES],
        [c.volume for c in CATEGORIES], price_step=0.01, brands_per_category=5,
    )
    regular = skus["price"].to_numpy()
    population = np.array([row[5] for row in regions], dtype=np.float64)
    share = regional_shares(
        rng, population, category, len(CATEGORIES), reach=1.0, taste=0.2, sku_taste=0.1
    )

    # Level (units per state and day at the window's start, regular price), trend, life cycle.
    level = np.exp(np.log(0.9) + 1.1 * rng.standard_normal(n_skus))
    roles = allocate(rng, [0.2, 0.2, 0.12, 0.05, 0.43], n_skus)
    slope = np.select(
        [roles == 0, roles == 1],
        [rng.uniform(0.5, 1.1, n_skus), rng.uniform(-1.0, -0.4, n_skus)],
        0.15 * rng.standard_normal(n_skus),
    )
    trend = np.exp(slope[None, :] * grid.years_from(window.start)[:, None])
    launched, discontinued = roles == 2, roles == 3
    launch = np.full(n_skus, -10**6, dtype=np.int64)
    launch[launched] = rng.integers(
        grid.at(dt.date(2023, 9, 1)), grid.at(origin) - 21, int(launched.sum())
    )
    tau = rng.uniform(7.0, 40.0, n_skus)
    last = np.full(n_skus, n_days + 10**6, dtype=np.int64)
    last[discontinued] = rng.integers(
        grid.at(dt.date(2024, 6, 1)), grid.at(origin) - 7, int(discontinued.sum())
    )
    life = launch_factor(n_days, launch, tau) * discontinue_factor(
        n_days, last, rng.uniform(14.0, 45.0, n_skus)
    )

    # Planned prices: everyday promotions, launch deals, event deals (deepest wins).
    depth = np.zeros((n_days, n_skus))
    years = n_days / 365.25
    n_promos = rng.poisson(PROMOS_PER_YEAR * years, n_skus)
    promo_sku = np.repeat(np.arange(n_skus), n_promos)
    promo_start = rng.integers(0, n_days, len(promo_sku))
    promo_len = rng.integers(3, 15, len(promo_sku))
    promo_depth = rng.choice(DEPTHS, len(promo_sku))
    for s, d0, n, x in zip(promo_sku, promo_start, promo_len, promo_depth, strict=True):
        np.maximum(depth[d0 : d0 + n, s], x, out=depth[d0 : d0 + n, s])
    deal_days, deal_depth = LAUNCH_DEAL
    for s in np.flatnonzero(launched):
        d0 = int(launch[s])
        np.maximum(depth[d0 : d0 + deal_days, s], deal_depth, out=depth[d0 : d0 + deal_days, s])

    # Events: traffic by category and SKU along the event's profile, and deals.
    cat_traffic = np.array([c.traffic for c in CATEGORIES])[category]
    affinity = np.exp(0.3 * rng.standard_normal(n_skus))
    appetite = np.array([c.deal_appetite for c in CATEGORIES])[category]
    traffic = np.ones((n_days, n_skus))
    calendar_events: list[tuple[str, list[dt.date]]] = []
    for ev in EVENTS:
        for start in ev.starts:
            n_ev = EVENT_DAYS.get((ev.name, start.year), len(ev.profile))
            profile = np.array(ev.profile[:n_ev])
            multiply_span(traffic, grid, start,
                          1.0 + profile[:, None] * ((cat_traffic - 1.0) * affinity)[None, :])
            on_deal = rng.random(n_skus) < ev.deal_share * appetite
            deal = np.round(rng.uniform(*ev.depth, n_skus) * 20.0) / 20.0 * on_deal
            span = grid.span(start, n_ev)
            np.maximum(depth[span], deal[None, :], out=depth[span])
            calendar_events.append((ev.name, days_from(start, n_ev)))
            if ev.name == "black_friday":
                calendar_events.append(("cyber_monday", [start + dt.timedelta(days=3)]))
    calendar_events.append(("christmas", list(CHRISTMAS)))
    for day in CHRISTMAS:
        multiply_span(traffic, grid, day, np.full((1, n_skus), 0.35))
    price = np.round(regular[None, :] * (1.0 - depth), 2)  # the planned price, in cents

    # Price response, and the dip after a promotion in stockpiled categories.
    elasticity = np.array([c.elasticity for c in CATEGORIES])[category]
    elasticity = elasticity * np.exp(0.2 * rng.standard_normal(n_skus))
    response = (price / regular[None, :]) ** -elasticity[None, :]
    ended = np.zeros_like(depth)
    ended[1:] = np.clip(depth[:-1] - depth[1:], 0.0, None)  # depth that ended the day before
    stock = np.zeros_like(depth)
    for lag in range(PULL_DAYS):
        stock[lag:] += ended[: n_days - lag] * np.exp(-lag / 3.0)
    pull = np.array([c.pull for c in CATEGORIES])[category]
    response *= np.exp(-2.0 * pull[None, :] * stock)

    weekly = weekly_profiles(rng, [c.weekly for c in CATEGORIES], jitter=0.03)
    yearly = np.stack([seasonal_bumps(grid.day_of_year, c.bumps) for c in CATEGORIES], axis=1)
    calendar_effect = (weekly[:, grid.weekday].T * yearly)[:, category]

    daily = level[None, :] * trend * life * calendar_effect * traffic * response
    mean = daily[:, :, None] * share[None, :, :]
    shock_sigma = rng.uniform(0.1, 0.25, n_skus)
    dispersion = rng.uniform(2.0, 20.0, n_skus)
    units = negative_binomial_counts(rng, mean, shock_sigma, dispersion)

    ids = skus["sku_id"].to_numpy()
    region_ids = np.asarray([row[0] for row in regions], dtype=object)
    prices = pd.DataFrame({
        "date": np.repeat(grid.dates.values, n_skus),
        "sku_id": np.tile(ids, n_days),
        "region_id": np.full(n_days * n_skus, None, dtype=object),
        "price": price.ravel(),
    })
    return DataSet(
        name="promo",
        description=DESCRIPTION,
        history=history_frame(grid, ids, region_ids, units),
        calendar=calendar_frame(calendar_events, grid),
        window=window,
        lead_days=lead_days,
        true_mean=window_mean_frame(grid, window, ids, region_ids, mean),
        skus=skus,
        regions=regions_frame(regions),
        prices=prices,
    )
