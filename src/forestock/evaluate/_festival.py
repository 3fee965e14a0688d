"""``festival``: a Korean retailer's 22-day November sale with a one-day peak on 11.11."""

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

# The 17 first-level divisions of Korea (ISO 3166-2:KR), population of 2023.
KOREA: tuple[RegionRow, ...] = (
    ("KR-11", "서울", "서울특별시", 37.566, 126.978, 9_386_000),
    ("KR-26", "부산", "부산광역시", 35.180, 129.076, 3_293_000),
    ("KR-41", "경기", "경기도", 37.263, 127.029, 13_630_000),
    ("KR-29", "광주", "광주광역시", 35.160, 126.851, 1_419_000),
    ("KR-49", "제주", "제주특별자치도", 33.499, 126.531, 675_000),
    ("KR-27", "대구", "대구광역시", 35.871, 128.601, 2_374_000),
    ("KR-28", "인천", "인천광역시", 37.456, 126.705, 2_998_000),
    ("KR-30", "대전", "대전광역시", 36.350, 127.385, 1_442_000),
    ("KR-31", "울산", "울산광역시", 35.538, 129.311, 1_103_000),
    ("KR-50", "세종", "세종특별자치시", 36.480, 127.289, 386_000),
    ("KR-42", "강원", "강원특별자치도", 37.881, 127.730, 1_528_000),
    ("KR-43", "충북", "충청북도", 36.642, 127.489, 1_591_000),
    ("KR-44", "충남", "충청남도", 36.815, 127.114, 2_130_000),
    ("KR-45", "전북", "전북특별자치도", 35.820, 127.109, 1_754_000),
    ("KR-46", "전남", "전라남도", 34.816, 126.463, 1_805_000),
    ("KR-47", "경북", "경상북도", 36.576, 128.506, 2_554_000),
    ("KR-48", "경남", "경상남도", 35.238, 128.692, 3_251_000),
)

START = dt.date(2022, 10, 1)
EVENT = "KSF"
PEAK = "11.11"
FESTIVAL_DAYS = 22
PEAK_INDEX = 10  # 11 November
YEARS = (2022, 2023, 2024, 2025)
LULL_DAYS = 6
HANGOVER = (0.55, 0.35, 0.2, 0.1)
# Festival profile, 1 to 22 November, in multiples of a SKU's lift above 1: an
# opening rush, a sag while shoppers wait for 11.11, the peak, and a last call.
PROFILE = np.array([
    1.6, 1.2, 1.0, 0.9, 0.85, 0.85, 0.8, 0.72, 0.66, 0.7, 4.0,
    1.3, 1.0, 0.9, 0.85, 0.8, 0.8, 0.8, 0.85, 0.9, 1.0, 1.35,
])
FESTIVAL_GROWTH = 1.12  # the festival's lift above 1 grows by this factor a year
# Chuseok and Seollal (lunar holidays): the main day; the holiday is the day before to the day
# after.
CHUSEOK = (dt.date(2022, 9, 10), dt.date(2023, 9, 29), dt.date(2024, 9, 17), dt.date(2025, 10, 6))
SEOLLAL = (dt.date(2023, 1, 22), dt.date(2024, 2, 10), dt.date(2025, 1, 29))
GIFT_RUSH_DAYS = 14


@dataclass(frozen=True)
class _Category:
    """A product category of the festival retailer."""

    name: str
    weight: float
    weekly: tuple[float, ...]  # Monday..Sunday archetype
    bumps: tuple[tuple[float, float, float], ...]  # yearly (peak day, width, log amplitude)
    lift: float  # median festival lift
    gift: float  # log lift at the end of the gift rush before Chuseok and Seollal
    price: tuple[float, float]  # KRW
    volume: tuple[float, float]  # litres


CATEGORIES = (
    _Category("beauty", 0.22, (1.06, 1.0, 0.98, 0.97, 0.93, 0.97, 1.09),
              ((340, 18, 0.15), (125, 12, 0.12)), 3.5, 0.15, (9_000, 90_000), (0.05, 0.6)),
    _Category("fashion", 0.18, (0.88, 0.88, 0.9, 0.94, 1.06, 1.25, 1.12),
              ((360, 40, 0.4), (200, 30, -0.3), (80, 20, 0.12)), 2.6, 0.0,
              (19_000, 250_000), (0.3, 4.0)),
    _Category("electronics", 0.12, (0.92, 0.92, 0.94, 0.97, 1.0, 1.16, 1.12),
              ((352, 14, 0.25), (62, 14, 0.18)), 3.0, 0.05, (29_000, 1_500_000), (0.2, 40.0)),
    _Category("food", 0.16, (1.14, 1.06, 1.02, 1.0, 0.97, 0.9, 0.91),
              ((200, 30, 0.08),), 1.6, 1.1, (6_000, 80_000), (0.5, 8.0)),
    _Category("home", 0.14, (0.95, 0.95, 0.96, 0.98, 1.0, 1.1, 1.08),
              ((85, 25, 0.28), (250, 20, 0.1)), 2.2, 0.2, (5_000, 400_000), (0.5, 60.0)),
    _Category("baby", 0.08, (1.04, 1.03, 1.02, 1.0, 0.98, 0.96, 0.97),
              ((124, 8, 0.3),), 2.8, 0.1, (8_000, 180_000), (0.3, 20.0)),
    _Category("sports", 0.10, (0.9, 0.9, 0.92, 0.96, 1.04, 1.18, 1.12),
              ((120, 35, 0.3), (272, 25, 0.2), (15, 30, -0.3)), 1.9, 0.0,
              (12_000, 600_000), (0.3, 30.0)),
)

DESCRIPTION = (
    "A Korean online retailer, daily from 2022-10-01 to 2025-11-22, 300 SKUs in seven "
    "categories over the 17 provinces (small: 40 SKUs, 5 provinces). Each year a 22-day sale, "
    "KSF (1-22 November), lifts each SKU by its own factor (from barely 1 to about 12, growing "
    "12% a year) along a shared profile: an opening rush, a sag before the one-day peak on "
    "11.11 (3.5 times the festival's average lift above 1), a last call; demand sags in the six "
    "days before (shoppers wait, deeper for high-lift SKUs) and for four days after. Weekly "
    "patterns differ by category and multiply through the festival; yearly seasons by category "
    "(winter fashion, spring home and sports, March electronics, Children's Day baby goods), a "
    "gift rush for food before Chuseok and Seollal and a delivery lull on those holidays. SKUs "
    "grow or decline at their own log-linear rate with slow wiggles; some launch during "
    "history (a few during last year's KSF and still ramping up), some are discontinued "
    "after a run-down; a long tail sells less than one unit a day per province. Provinces' "
    "shares differ by category. Counts are negative binomial around the mean times a "
    "mean-one lognormal SKU-day shock shared by the provinces; true_mean excludes the "
    "realised shock. Target: the last KSF, forecast 30 days ahead."
)


def festival(seed: int = 0, size: str = "full") -> DataSet:
    """Generate the ``festival`` data set (see :data:`DESCRIPTION`).

    Parameters
    ----------
    seed
        Seeds the one random generator; the same seed gives identical tables.
    size
        ``"full"`` (300 SKUs, 17 provinces) or ``"small"`` (40 SKUs, 5 provinces).

    Returns
    -------
    DataSet
        Target window: KSF 2025 (1-22 November), at the end of the history.
        ``true_mean`` is the mean before the SKU-day shock (whose mean is 1).
    """
    check_size(size)
    rng = np.random.default_rng(seed)
    n_skus, regions = (300, KOREA) if size == "full" else (40, KOREA[:5])
    window = Window(EVENT, dt.date(YEARS[-1], 11, 1), dt.date(YEARS[-1], 11, FESTIVAL_DAYS))
    lead_days = 30
    origin = window.start - dt.timedelta(days=lead_days)
    grid = DayGrid.between(START, window.end)
    n_days = grid.n

    category = allocate(rng, [c.weight for c in CATEGORIES], n_skus)
    skus = skus_frame(
        rng, "F", category, [c.name for c in CATEGORIES], [c.price for c in CATEGORIES],
        [c.volume for c in CATEGORIES], price_step=100.0, brands_per_category=4,
    )
    population = np.array([row[5] for row in regions], dtype=np.float64)
    share = regional_shares(
        rng, population, category, len(CATEGORIES), reach=0.9, taste=0.35, sku_taste=0.15
    )

    # Roles: launched during last year's KSF, launched at another time, discontinued, the rest.
    roles = allocate(rng, [0.05, 0.10, 0.07, 0.78], n_skus)
    fest_launch, other_launch, discontinued = roles == 0, roles == 1, roles == 2

    # Level: units per province and day at the window's start, before any effect.
    tail = rng.random(n_skus) < 0.45
    tail[fest_launch] = False
    level = np.where(
        tail,
        np.exp(np.log(0.12) + 0.8 * rng.standard_normal(n_skus)),
        np.exp(np.log(1.5) + 1.0 * rng.standard_normal(n_skus)),
    )
    slope = np.clip(0.35 * rng.standard_normal(n_skus), -0.9, 0.9)
    slope[fest_launch] = 0.0
    years = grid.years_from(window.start)
    periods = rng.uniform(60.0, 400.0, (2, n_skus)) / 365.25
    phases = rng.uniform(0.0, 2 * np.pi, (2, n_skus))
    wiggle = 0.08 * np.sin(2 * np.pi * years[:, None, None] / periods[None] + phases[None])
    trend = np.exp(slope[None, :] * years[:, None] + wiggle.sum(axis=1))

    launch = np.full(n_skus, -10**6, dtype=np.int64)
    tau = np.ones(n_skus)
    fest_start = grid.at(dt.date(YEARS[-2], 11, 1))
    launch[fest_launch] = fest_start + rng.integers(0, FESTIVAL_DAYS, int(fest_launch.sum()))
    tau[fest_launch] = rng.uniform(150.0, 300.0, int(fest_launch.sum()))
    launch[other_launch] = rng.integers(
        grid.at(dt.date(2022, 12, 1)), grid.at(origin) - 45, int(other_launch.sum())
    )
    tau[other_launch] = rng.uniform(20.0, 120.0, int(other_launch.sum()))
    last = np.full(n_skus, n_days + 10**6, dtype=np.int64)
    last[discontinued] = rng.integers(
        grid.at(dt.date(2024, 3, 1)), grid.at(origin) - 14, int(discontinued.sum())
    )
    rundown = rng.uniform(20.0, 60.0, n_skus)
    life = launch_factor(n_days, launch, tau) * discontinue_factor(n_days, last, rundown)

    # Calendar effects per category: weekly, yearly, the lunar holidays.
    weekly = weekly_profiles(rng, [c.weekly for c in CATEGORIES], jitter=0.03)
    yearly = np.stack([seasonal_bumps(grid.day_of_year, c.bumps) for c in CATEGORIES], axis=1)
    gift = np.array([c.gift for c in CATEGORIES])
    rush = ((np.arange(GIFT_RUSH_DAYS) + 1.0) / GIFT_RUSH_DAYS) ** 2
    holiday = np.ones((n_days, len(CATEGORIES)))
    for main_day in (*CHUSEOK, *SEOLLAL):
        first = main_day - dt.timedelta(days=1)
        multiply_span(holiday, grid, first - dt.timedelta(days=GIFT_RUSH_DAYS),
                      np.exp(rush[:, None] * gift[None, :]))
        multiply_span(holiday, grid, first, np.array([[0.55], [0.55], [0.55], [0.85]]))
    calendar_effect = (weekly[:, grid.weekday].T * yearly * holiday)[:, category]

    # The festival: per-SKU lift and peak share, lull before and hangover after, growing by
    # FESTIVAL_GROWTH a year (``lift`` is this year's).
    cat_lift = np.array([c.lift for c in CATEGORIES])[category]
    lift = np.exp(np.log(cat_lift) + 0.45 * rng.standard_normal(n_skus))
    kind = rng.random(n_skus)
    lift = np.where(kind < 0.12, rng.uniform(1.0, 1.2, n_skus), lift)
    lift = np.where(kind > 0.94, rng.uniform(7.0, 12.0, n_skus), lift)
    lift = np.clip(lift, 1.0, 12.0)
    peak_share = np.exp(0.35 * rng.standard_normal(n_skus))
    is_peak = (np.arange(FESTIVAL_DAYS) == PEAK_INDEX)[:, None]
    profile = np.where(is_peak, PROFILE[:, None] * peak_share[None, :], PROFILE[:, None])
    lull = (np.arange(LULL_DAYS) + 1.0) / LULL_DAYS
    event = np.ones((n_days, n_skus))
    for k, year in enumerate(YEARS):
        above = (lift - 1.0) * FESTIVAL_GROWTH ** (k + 1 - len(YEARS))
        wait = 1.0 - 1.0 / (1.0 + above)  # share of demand that waits: 0 (no lift) to 1
        start = dt.date(year, 11, 1)
        multiply_span(event, grid, start, 1.0 + above[None, :] * profile)
        multiply_span(event, grid, start - dt.timedelta(days=LULL_DAYS),
                      1.0 - 0.6 * lull[:, None] * wait[None, :])
        multiply_span(event, grid, start + dt.timedelta(days=FESTIVAL_DAYS),
                      1.0 - np.array(HANGOVER)[:, None] * wait[None, :])

    daily = level[None, :] * trend * life * calendar_effect * event
    mean = daily[:, :, None] * share[None, :, :]
    shock_sigma = rng.uniform(0.1, 0.3, n_skus)
    dispersion = np.exp(rng.uniform(np.log(1.5), np.log(30.0), n_skus))
    units = negative_binomial_counts(rng, mean, shock_sigma, dispersion)

    ids = skus["sku_id"].to_numpy()
    region_ids = np.asarray([row[0] for row in regions], dtype=object)
    calendar = calendar_frame([
        *((EVENT, days_from(dt.date(y, 11, 1), FESTIVAL_DAYS)) for y in YEARS),
        *((PEAK, [dt.date(y, 11, 11)]) for y in YEARS),
        *(("chuseok", days_from(d - dt.timedelta(days=1), 3)) for d in CHUSEOK),
        *(("seollal", days_from(d - dt.timedelta(days=1), 3)) for d in SEOLLAL),
    ], grid)
    return DataSet(
        name="festival",
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
