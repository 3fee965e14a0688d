"""``grocery``: a Chinese grocery and household network with lumpy, intermittent demand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from forestock.evaluate._common import (
    DataSet,
    DayGrid,
    RegionRow,
    allocate,
    calendar_frame,
    check_size,
    days_from,
    history_frame,
    mean_one_lognormal,
    multiply_span,
    regional_shares,
    regions_frame,
    skus_frame,
    weekly_profiles,
    window_mean_frame,
)
from forestock.events import Window

# Twenty provinces and municipalities of China (ISO 3166-2:CN), by their capital; 2023.
PROVINCES: tuple[RegionRow, ...] = (
    ("CN-GD", "广州", "广东省", 23.129, 113.264, 127_060_000),
    ("CN-ZJ", "杭州", "浙江省", 30.274, 120.155, 66_270_000),
    ("CN-SC", "成都", "四川省", 30.573, 104.066, 83_680_000),
    ("CN-BJ", "北京", "北京市", 39.904, 116.407, 21_860_000),
    ("CN-SN", "西安", "陕西省", 34.341, 108.940, 39_520_000),
    ("CN-SD", "济南", "山东省", 36.651, 117.120, 101_230_000),
    ("CN-HA", "郑州", "河南省", 34.747, 113.625, 98_150_000),
    ("CN-JS", "南京", "江苏省", 32.060, 118.797, 85_260_000),
    ("CN-HE", "石家庄", "河北省", 38.042, 114.515, 73_930_000),
    ("CN-HN", "长沙", "湖南省", 28.228, 112.939, 65_680_000),
    ("CN-AH", "合肥", "安徽省", 31.821, 117.227, 61_210_000),
    ("CN-HB", "武汉", "湖北省", 30.593, 114.305, 58_380_000),
    ("CN-GX", "南宁", "广西壮族自治区", 22.817, 108.366, 50_270_000),
    ("CN-YN", "昆明", "云南省", 25.039, 102.718, 46_730_000),
    ("CN-JX", "南昌", "江西省", 28.682, 115.858, 45_150_000),
    ("CN-LN", "沈阳", "辽宁省", 41.805, 123.431, 41_970_000),
    ("CN-FJ", "福州", "福建省", 26.074, 119.296, 41_830_000),
    ("CN-CQ", "重庆", "重庆市", 29.563, 106.551, 31_910_000),
    ("CN-SH", "上海", "上海市", 31.230, 121.474, 24_870_000),
    ("CN-TJ", "天津", "天津市", 39.343, 117.362, 13_640_000),
)

START = dt.date(2024, 5, 20)
EVENT = "618"
EVENT_DAYS = 14
YEARS = (2024, 2025, 2026)
# 618 profile, 5 to 18 June, in multiples of a SKU's lift above 1: rising to the last day.
PROFILE = 0.25 + 1.5 * (np.arange(EVENT_DAYS) / (EVENT_DAYS - 1.0)) ** 2
PROFILE[-1] = 3.5
BULK_618 = 0.4  # extra units per order grow by up to this share during 618 (multi-packs)
EVENT_GROWTH = 1.05  # 618's lift above 1 grows by this factor a year
PANTRY = (0.35, 10, 4.0)  # post-618 dip: depth per unit of (1 - 1/lift), days, decay days
DOUBLE_11 = (dt.date(2024, 11, 11), dt.date(2025, 11, 11))
# Spring Festival: seven days from New Year's Eve, couriers mostly off; stocking up before.
SPRING_FESTIVAL = (dt.date(2025, 1, 28), dt.date(2026, 2, 16))
SPRING_DAYS = 7


@dataclass(frozen=True)
class _Category:
    """A grocery or household category."""

    name: str
    weight: float
    extra: float  # mean extra units per order beyond the first (multi-packs, bulk)
    lift: float  # median 618 lift
    season: tuple[float, float]  # log amplitude and peak day of year of the yearly sinusoid
    stock_up: float  # lift in the week before Spring Festival
    price: tuple[float, float]  # CNY
    volume: tuple[float, float]  # litres


CATEGORIES = (
    _Category("beverages", 0.14, 1.5, 1.8, (0.45, 200.0), 1.3, (3.0, 80.0), (0.5, 12.0)),
    _Category("snacks", 0.12, 0.8, 1.8, (0.12, 20.0), 1.5, (5.0, 60.0), (0.2, 3.0)),
    _Category("dairy", 0.08, 1.0, 1.3, (0.08, 300.0), 1.3, (6.0, 90.0), (0.5, 6.0)),
    _Category("rice_oil", 0.10, 1.2, 2.5, (0.1, 15.0), 1.4, (15.0, 150.0), (2.0, 25.0)),
    _Category("instant_food", 0.08, 1.0, 1.6, (0.3, 15.0), 1.3, (5.0, 70.0), (0.5, 6.0)),
    _Category("household_paper", 0.12, 2.5, 2.8, (0.05, 100.0), 1.1, (10.0, 120.0),
              (5.0, 40.0)),
    _Category("cleaning", 0.10, 1.2, 2.3, (0.12, 80.0), 1.2, (8.0, 100.0), (0.5, 10.0)),
    _Category("personal_care", 0.12, 0.6, 2.0, (0.15, 200.0), 1.0, (10.0, 200.0), (0.1, 2.0)),
    _Category("baby_care", 0.08, 1.5, 2.5, (0.05, 330.0), 1.0, (30.0, 300.0), (2.0, 30.0)),
    _Category("pet", 0.06, 1.0, 2.0, (0.05, 60.0), 1.0, (15.0, 250.0), (1.0, 30.0)),
)
WEEKLY = (0.94, 0.95, 0.96, 0.97, 1.02, 1.1, 1.06)  # Monday..Sunday, jittered by category

DESCRIPTION = (
    "A Chinese grocery and household network, daily from 2024-05-20 to 2026-06-18, 150 SKUs in"
    " ten categories over 20 provinces (small: 40 SKUs, 5 provinces). Demand is lumpy and "
    "intermittent: each SKU, province and day draws Poisson orders (mostly 0 or 1) and each "
    "order buys 1 + geometric units (multi-packs; 1.6 to 3.5 units an order by category and "
    "SKU), so most cells sell 0-2 units and some days 6. Each year 618 runs 14 days ending on "
    "18 June, rising through the window to a peak on its last day (the lift above 1 runs from "
    "0.25 times the SKU's own on the first day to 3.5 times on the last; own lifts from about "
    "1.3 for dairy to 2.8 for paper, growing 5% a year), with bigger baskets during it and a "
    "pantry dip for ten days after; 11.11 is a one-day echo. Half the SKUs step to a new level"
    " (x1.8 to x3.7 up or down) on a random date, a third of those steps in the five months "
    "before the forecast. Provinces grow at their own rates (flat, 10-20%, or 30-40% a year); "
    "categories follow a yearly sinusoid (beverages peak in July, instant food and rice in "
    "January); Spring Festival halts couriers for a week after a stock-up. Order rates carry a"
    " mean-one lognormal SKU-day shock shared by the provinces; true_mean excludes the "
    "realised shock. Target: the last 618 (5-18 June 2026), forecast 14 days ahead."
)


def grocery(seed: int = 0, size: str = "full") -> DataSet:
    """Generate the ``grocery`` data set (see :data:`DESCRIPTION`).

    Parameters
    ----------
    seed
        Seeds the one random generator; the same seed gives identical tables.
    size
        ``"full"`` (150 SKUs, 20 provinces) or ``"small"`` (40 SKUs, 5 provinces).

    Returns
    -------
    DataSet
        Target window: 618 of 2026 (5-18 June), at the end of the history.
        ``true_mean`` is the order rate before the SKU-day shock (whose mean
        is 1) times the mean units per order.
    """
    check_size(size)
    rng = np.random.default_rng(seed)
    n_skus, regions = (150, PROVINCES) if size == "full" else (40, PROVINCES[:5])
    end = dt.date(YEARS[-1], 6, 18)
    window = Window(EVENT, end - dt.timedelta(days=EVENT_DAYS - 1), end)
    lead_days = 14
    origin = window.start - dt.timedelta(days=lead_days)
    grid = DayGrid.between(START, window.end)
    n_days, n_regions = grid.n, len(regions)

    category = allocate(rng, [c.weight for c in CATEGORIES], n_skus)
    skus = skus_frame(
        rng, "G", category, [c.name for c in CATEGORIES], [c.price for c in CATEGORIES],
        [c.volume for c in CATEGORIES], price_step=0.1, brands_per_category=3,
    )
    population = np.array([row[5] for row in regions], dtype=np.float64)
    share = regional_shares(
        rng, population, category, len(CATEGORIES), reach=0.8, taste=0.25, sku_taste=0.2
    )

    # Order rate per province and day at the window's start: slow cells, a few fast SKUs.
    fast = rng.random(n_skus) < 0.1
    rate = np.where(
        fast,
        np.exp(np.log(1.0) + 0.5 * rng.standard_normal(n_skus)),
        np.exp(np.log(0.12) + 0.9 * rng.standard_normal(n_skus)),
    )
    years = grid.years_from(window.start)
    drift = 0.1 * rng.standard_normal(n_skus)
    sku_trend = np.exp(drift[None, :] * years[:, None])

    # Regime changes: one step per SKU for half of them, level given after the step.
    kind = allocate(rng, [1.0, 2.0, 3.0], n_skus)  # 0: late step, 1: earlier step, 2: none
    step_day = np.where(
        kind == 0,
        rng.integers(grid.at(origin) - 150, grid.at(origin) - 14, n_skus),
        rng.integers(60, grid.at(origin) - 150, n_skus),
    )
    factor = np.exp(rng.choice([-1.0, 1.0], n_skus) * rng.uniform(0.6, 1.3, n_skus))
    factor[kind == 2] = 1.0
    before_step = np.arange(n_days)[:, None] < step_day[None, :]
    regime = np.where(before_step, 1.0 / factor[None, :], 1.0)

    # Provinces grow at their own rates; categories follow a yearly sinusoid and the week.
    growth_kind = allocate(rng, [0.3, 0.4, 0.3], n_regions)
    growth = np.select(
        [growth_kind == 0, growth_kind == 1],
        [rng.uniform(np.log(1.3), np.log(1.4), n_regions), rng.uniform(-0.03, 0.05, n_regions)],
        rng.uniform(np.log(1.1), np.log(1.2), n_regions),
    )
    regional = np.exp(growth[None, :] * years[:, None])
    amp = np.array([c.season[0] for c in CATEGORIES]) * np.exp(
        0.2 * rng.standard_normal(len(CATEGORIES))
    )
    peak = np.array([c.season[1] for c in CATEGORIES])
    yearly = np.exp(
        amp[None, :] * np.cos(2 * np.pi * (grid.day_of_year[:, None] - peak[None, :]) / 365.25)
    )
    weekly = weekly_profiles(rng, [WEEKLY] * len(CATEGORIES), jitter=0.03)
    stock_up = np.array([c.stock_up for c in CATEGORIES])
    holiday = np.ones((n_days, len(CATEGORIES)))
    for eve in SPRING_FESTIVAL:
        multiply_span(holiday, grid, eve - dt.timedelta(days=7),
                      np.broadcast_to(stock_up, (7, len(CATEGORIES))))
        multiply_span(holiday, grid, eve,
                      np.array([[0.5], [0.25], [0.25], [0.3], [0.4], [0.55], [0.75]]))
    seasonal = (weekly[:, grid.weekday].T * yearly * holiday)[:, category]

    # 618 (rising to the last day, bigger baskets, pantry dip after) and 11.11.
    cat_lift = np.array([c.lift for c in CATEGORIES])[category]
    lift = np.clip(np.exp(np.log(cat_lift) + 0.4 * rng.standard_normal(n_skus)), 1.0, 15.0)
    extra = np.array([c.extra for c in CATEGORIES])[category] * np.exp(
        0.3 * rng.standard_normal(n_skus)
    )
    event = np.ones((n_days, n_skus))
    basket = np.ones(n_days)  # multiplies the extra units per order
    depth, pantry_days, decay = PANTRY
    pantry = np.exp(-np.arange(pantry_days) / decay)
    for k, year in enumerate(YEARS):
        above = (lift - 1.0) * EVENT_GROWTH ** (k + 1 - len(YEARS))
        start = dt.date(year, 6, 18 - EVENT_DAYS + 1)
        multiply_span(event, grid, start, 1.0 + PROFILE[:, None] * above[None, :])
        multiply_span(basket, grid, start, 1.0 + BULK_618 * PROFILE / PROFILE.max())
        multiply_span(event, grid, start + dt.timedelta(days=EVENT_DAYS),
                      1.0 - depth * pantry[:, None] * (1.0 - 1.0 / (1.0 + above))[None, :])
    for day in DOUBLE_11:
        multiply_span(event, grid, day, (1.0 + 0.8 * (lift - 1.0))[None, :])
        multiply_span(basket, grid, day, np.array([1.0 + 0.5 * BULK_618]))

    orders = (rate[None, :] * sku_trend * regime * seasonal * event)[:, :, None] * (
        share[None, :, :] * regional[:, None, :]
    )
    per_order = 1.0 + extra[None, :] * basket[:, None]  # mean units an order, [day, sku]
    mean = orders * per_order[:, :, None]

    # Orders: Poisson around the rate times a SKU-day shock; units: 1 + geometric per order,
    # i.e. orders + NegBin(orders, p) extra units with mean orders * (1 - p) / p.
    shock = mean_one_lognormal(rng, rng.uniform(0.15, 0.35, n_skus)[None, :], (n_days, n_skus))
    n_orders = rng.poisson(orders * shock[:, :, None]).astype(np.int64)
    p_stop = np.broadcast_to((1.0 / per_order)[:, :, None], n_orders.shape)
    units = n_orders.copy()
    some = n_orders > 0
    units[some] += rng.negative_binomial(n_orders[some], p_stop[some])

    ids = skus["sku_id"].to_numpy()
    region_ids = np.asarray([row[0] for row in regions], dtype=object)
    calendar = calendar_frame([
        *((EVENT, days_from(dt.date(y, 6, 18 - EVENT_DAYS + 1), EVENT_DAYS)) for y in YEARS),
        ("11.11", list(DOUBLE_11)),
        *(("spring_festival", days_from(eve, SPRING_DAYS)) for eve in SPRING_FESTIVAL),
    ], grid)
    return DataSet(
        name="grocery",
        description=DESCRIPTION,
        history=history_frame(grid, ids, region_ids, units),
        calendar=calendar,
        window=window,
        lead_days=lead_days,
        true_mean=window_mean_frame(grid, window, ids, region_ids, mean),
        skus=skus,
        regions=regions_frame(regions),
        prices=None,
    )
