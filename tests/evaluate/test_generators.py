"""The evaluation data sets: deterministic, within their contracts, and with their structure."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest

from forestock.evaluate import GENERATORS, DataSet, make_dataset
from forestock.events import occurrences
from forestock.tables import validate

NAMES = tuple(GENERATORS)
FRAMES = ("history", "calendar", "true_mean", "skus", "regions", "prices")


@functools.cache
def small(name: str, seed: int = 0) -> DataSet:
    """The small instance of generator ``name`` (cached: tests must not modify it)."""
    return make_dataset(name, seed=seed, size="small")


def window_units(ds: DataSet) -> pd.DataFrame:
    """History rows inside the target window."""
    start, end = pd.Timestamp(ds.window.start), pd.Timestamp(ds.window.end)
    return ds.history[(ds.history["date"] >= start) & (ds.history["date"] <= end)]


def dense_units(ds: DataSet, start: str, end: str) -> pd.DataFrame:
    """Units per date (rows, every date from start to end) and SKU (columns, every SKU)."""
    h = ds.history[(ds.history["date"] >= start) & (ds.history["date"] <= end)]
    table = h.pivot_table(index="date", columns="sku_id", values="units", aggfunc="sum")
    return table.reindex(index=pd.date_range(start, end), columns=ds.skus["sku_id"]).fillna(0.0)


# --- every generator ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_identical_tables(name: str) -> None:
    """Two instances from the same seed are equal table for table and field for field."""
    a, b = make_dataset(name, seed=0, size="small"), small(name)
    for field in FRAMES:
        left, right = getattr(a, field), getattr(b, field)
        if left is None:
            assert right is None
        else:
            pd.testing.assert_frame_equal(left, right, check_exact=True)
    assert (a.window, a.lead_days, a.description) == (b.window, b.lead_days, b.description)


@pytest.mark.parametrize("name", NAMES)
def test_other_seed_gives_other_tables(name: str) -> None:
    """Another seed gives another history, other SKUs and another true mean."""
    a, b = small(name), small(name, seed=1)
    assert not a.history.equals(b.history)
    assert not a.skus.equals(b.skus)
    assert not a.true_mean.equals(b.true_mean)


@pytest.mark.parametrize("name", NAMES)
def test_tables_obey_their_contracts(name: str) -> None:
    """History, calendar, SKUs, regions and prices pass forestock.tables validation whole."""
    ds = small(name)
    known = {"skus": pd.Index(ds.skus["sku_id"]), "regions": pd.Index(ds.regions["region_id"])}
    tables = {"history": ds.history, "calendar": ds.calendar, "skus": ds.skus,
              "regions": ds.regions}
    if ds.prices is not None:
        tables["prices"] = ds.prices
    for table, frame in tables.items():
        assert len(validate(frame, table, known=known)) == len(frame)
    h = ds.history
    assert pd.api.types.is_datetime64_any_dtype(h["date"])
    assert h["units"].dtype == np.int64 and (h["units"] > 0).all()
    assert all(isinstance(v, str) for v in (*h["sku_id"].unique(), *h["region_id"].unique()))


@pytest.mark.parametrize("name", NAMES)
def test_window_is_the_last_occurrence_at_the_end_of_history(name: str) -> None:
    """The window is its event's last occurrence, ends on the last history date, lead > 0."""
    ds = small(name)
    found = occurrences(ds.calendar, ds.window.event)
    assert found[-1] == ds.window and len(found) >= 2
    assert ds.history["date"].max() == pd.Timestamp(ds.window.end)
    assert ds.calendar["date"].max() == pd.Timestamp(ds.window.end)
    assert ds.lead_days > 0 and ds.history["date"].min() < pd.Timestamp(ds.origin)


@pytest.mark.parametrize("name", NAMES)
def test_true_mean_covers_every_sku_region_and_date_of_the_window(name: str) -> None:
    """true_mean has one finite, non-negative row per SKU, region and window date."""
    ds = small(name)
    tm = ds.true_mean
    assert list(tm.columns) == ["date", "sku_id", "region_id", "mean"]
    full = pd.MultiIndex.from_product(
        [ds.window.dates(), ds.skus["sku_id"], ds.regions["region_id"]]
    )
    keys = pd.MultiIndex.from_frame(tm[["date", "sku_id", "region_id"]])
    assert keys.is_unique and len(keys) == len(full) and keys.isin(full).all()
    assert np.isfinite(tm["mean"]).all() and (tm["mean"] >= 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_window_units_agree_with_true_mean(name: str) -> None:
    """Window units total within 4 standard deviations (estimated per SKU) of the mean's total."""
    ds = small(name)
    units = window_units(ds).groupby("sku_id")["units"].sum()
    mean = ds.true_mean.groupby("sku_id")["mean"].sum()
    resid = units.reindex(mean.index, fill_value=0) - mean
    z = resid.sum() / np.sqrt((resid**2).sum())
    assert abs(z) < 4.0
    assert abs(resid.sum()) < 0.2 * mean.sum()
    assert np.corrcoef(units.reindex(mean.index, fill_value=0), mean)[0, 1] > 0.9


@pytest.mark.parametrize("name", NAMES)
def test_prices_cover_every_sku_and_date_where_given(name: str) -> None:
    """Planned prices (promo only) hold one positive price per SKU and date of the span."""
    ds = small(name)
    if name != "promo":
        assert ds.prices is None
        return
    assert ds.prices is not None
    days = pd.date_range(ds.history["date"].min(), ds.window.end)
    assert len(ds.prices) == len(days) * len(ds.skus)
    assert set(ds.prices["date"]) == set(days) and (ds.prices["price"] > 0).all()


@pytest.mark.parametrize(
    ("name", "size", "word"),
    [("nope", "small", "name='nope'"), ("festival", "huge", "size='huge'"),
     ("promo", "", "size=''")],
)
def test_make_dataset_rejects_unknown_names_and_sizes(name: str, size: str, word: str) -> None:
    """An unknown generator or size raises ValueError naming it."""
    with pytest.raises(ValueError, match=word):
        make_dataset(name, size=size)


# --- festival -------------------------------------------------------------------------------


def test_festival_weekly_pattern_persists_inside_ksf_by_category() -> None:
    """Inside KSF, weekend/weekday mean ratios differ from 1 and between categories."""
    ds = small("festival")
    peak = ds.calendar.loc[ds.calendar["event"] == "11.11", "date"].max()
    tm = ds.true_mean.merge(ds.skus[["sku_id", "category"]])
    tm = tm[tm["date"] != peak]
    weekend = tm["date"].dt.dayofweek >= 5
    ratio = (tm[weekend].groupby("category")["mean"].mean()
             / tm[~weekend].groupby("category")["mean"].mean())
    assert ratio.max() > 1.15 and ratio.max() > 1.25 * ratio.min()


def test_festival_peaks_on_11_11_after_a_lull_and_before_a_hangover() -> None:
    """11.11 is the window's top day; earlier KSFs had a lull before them and a dip after."""
    ds = small("festival")
    daily = ds.true_mean.groupby("date")["mean"].sum()
    assert daily.idxmax() == pd.Timestamp(ds.window.start.year, 11, 11)
    assert daily.max() > 2.0 * daily.median()
    sold = ds.history.groupby("date")["units"].sum()
    day = pd.Timedelta(days=1)
    lull, hangover, lift = [], [], []
    for prev in occurrences(ds.calendar, "KSF")[:-1]:
        start, end = pd.Timestamp(prev.start), pd.Timestamp(prev.end)
        before = sold[start - 20 * day : start - 7 * day].mean()
        after = sold[end + 8 * day : end + 21 * day].mean()
        lull.append(sold[start - 6 * day : start - day].mean() / before)
        hangover.append(sold[end + day : end + 3 * day].mean() / after)
        lift.append(sold[start:end].mean() / before)
    assert len(lull) >= 2 and np.mean(lull) < 0.93 and np.mean(hangover) < 0.93
    assert min(lift) > 1.4


def test_festival_lifts_differ_by_sku() -> None:
    """Window lifts over the month before the forecast differ by over 2.2x (10th-90th pct)."""
    ds = small("festival")
    origin = pd.Timestamp(ds.origin)
    recent = ds.history[(ds.history["date"] > origin - pd.Timedelta(days=28))
                        & (ds.history["date"] <= origin)]
    base = recent.groupby("sku_id")["units"].sum() / 28
    during = ds.true_mean.groupby("sku_id")["mean"].sum() / ds.window.days
    lift = (during.reindex(base.index) / base)[base >= 2.0]
    assert lift.quantile(0.9) > 3.0 and lift.quantile(0.9) > 2.2 * lift.quantile(0.1)


def test_festival_launches_discontinuations_and_slow_tail() -> None:
    """Some SKUs first sell in last year's KSF and sell now; some stopped; many sell < 1 a day."""
    ds = small("festival")
    prev = occurrences(ds.calendar, "KSF")[-2]
    first = ds.history.groupby("sku_id")["date"].min()
    launched = first[(first >= pd.Timestamp(prev.start)) & (first <= pd.Timestamp(prev.end))]
    now = ds.true_mean.groupby("sku_id")["mean"].sum()
    assert len(launched) >= 2 and (now[launched.index] > 0).all()
    sold = ds.history.groupby("sku_id")["units"].sum()
    assert (sold[now.index[now == 0]] >= 20).sum() >= 2
    per_cell = ds.true_mean.groupby("sku_id")["mean"].mean()
    assert (per_cell < 1.0).mean() > 0.25


def test_festival_regions_share_categories_differently() -> None:
    """A province's share of units differs between categories by more than 1.5 times."""
    ds = small("festival")
    by = ds.history.merge(ds.skus[["sku_id", "category"]]).pivot_table(
        index="category", columns="region_id", values="units", aggfunc="sum"
    )
    share = by.div(by.sum(axis=1), axis=0)
    assert (share.max() / share.min()).max() > 1.5


# --- promo ----------------------------------------------------------------------------------


def test_promo_promoted_day_sells_more_than_the_day_before() -> None:
    """On days a 20%+ promotion starts (no event), SKUs sell over 1.5x the day before."""
    ds = small("promo")
    assert ds.prices is not None
    regular = ds.prices["sku_id"].map(ds.skus.set_index("sku_id")["price"])
    depth = (1.0 - ds.prices["price"] / regular).to_numpy().reshape(-1, len(ds.skus))
    days = pd.date_range(ds.history["date"].min(), ds.window.end)
    units = dense_units(ds, str(days[0].date()), str(days[-1].date())).to_numpy()
    plain = ~days.isin(ds.calendar["date"])[:, None]
    starts = (depth[1:] >= 0.2) & (depth[:-1] < 0.01) & plain[1:] & plain[:-1]
    assert starts.sum() >= 50
    assert units[1:][starts].sum() > 1.5 * units[:-1][starts].sum()


def test_promo_black_friday_is_four_days_ending_on_cyber_monday() -> None:
    """The target black_friday runs Friday to Monday after Thanksgiving, Monday also Cyber."""
    ds = small("promo")
    w = ds.window
    assert (w.event, w.start, w.days) == ("black_friday", dt.date(2025, 11, 28), 4)
    monday = ds.calendar[ds.calendar["date"] == pd.Timestamp(w.end)]
    assert set(monday["event"]) == {"black_friday", "cyber_monday"}
    assert len(occurrences(ds.calendar, "prime_day")) == 3


def test_promo_toys_peak_in_december() -> None:
    """At regular prices, toys sell over 1.5x more a day in mid-December than in October."""
    ds = small("promo")
    assert ds.prices is not None
    units = dense_units(ds, "2024-10-01", "2024-12-21")
    toys = ds.skus.loc[ds.skus["category"] == "toys", "sku_id"].to_numpy()
    prices = ds.prices.pivot(index="date", columns="sku_id", values="price")
    regular = ds.skus.set_index("sku_id")["price"]
    plain = (prices.loc[units.index, toys] >= regular[toys] - 0.01).to_numpy()
    sold = units[toys].to_numpy()
    december = np.asarray(units.index >= "2024-12-08")
    october = np.asarray(units.index <= "2024-10-31")
    per_day = [sold[m][plain[m]].mean() for m in (december, october)]
    assert per_day[0] > 1.5 * per_day[1]


# --- grocery --------------------------------------------------------------------------------


def test_grocery_demand_is_intermittent_and_lumpy() -> None:
    """Over 85% of cells sell 0-2 units a day, but a third of selling cells sell 3 or more."""
    ds = small("grocery")
    cells = ds.history["date"].nunique() * len(ds.skus) * len(ds.regions)
    assert (ds.history["units"] > 2).sum() < 0.15 * cells
    assert len(ds.history) < 0.3 * cells
    assert (ds.history["units"] >= 3).mean() > 0.33


def test_grocery_618_rises_to_its_last_day() -> None:
    """The 618 mean rises through the window and peaks on 18 June."""
    ds = small("grocery")
    daily = ds.true_mean.groupby("date")["mean"].sum()
    assert daily.idxmax() == pd.Timestamp(ds.window.end) and ds.window.end.month == 6
    assert daily.iloc[-1] > 3.0 * daily.iloc[0]
    assert np.corrcoef(daily.rank(), np.arange(len(daily)))[0, 1] > 0.8  # Spearman


def summer_units(ds: DataSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units per SKU (rows) and province (columns) from 19 June to 31 October, 2024 and 2025."""
    h = ds.history
    out = []
    for year in (2024, 2025):
        part = h[(h["date"] >= f"{year}-06-19") & (h["date"] <= f"{year}-10-31")]
        out.append(part.pivot_table(index="sku_id", columns="region_id", values="units",
                                    aggfunc="sum", fill_value=0))
    before, after = out[0].align(out[1], join="inner", fill_value=0)
    return before, after


def test_grocery_provinces_grow_at_different_rates() -> None:
    """Given each SKU's sales, provinces' year-on-year growth differs by over 1.2 times."""
    before, after = summer_units(small("grocery"))
    share = before.div(before.sum(axis=1), axis=0)
    expected = share.mul(after.sum(axis=1), axis=0).sum()
    growth = after.sum() / expected
    assert growth.max() > 1.2 * growth.min()


def test_grocery_skus_step_to_new_levels() -> None:
    """In the full instance, over 10% of SKUs change their network share by 1.65x in a year.

    Without the steps, noise alone moves under 3% of SKUs that far (measured over six seeds).
    """
    before, after = summer_units(make_dataset("grocery", seed=0, size="full"))
    a, b = before.sum(axis=1), after.sum(axis=1)
    keep = (a >= 60) & (b >= 60)
    change = np.log((b[keep] / b.sum()) / (a[keep] / a.sum()))
    assert keep.sum() >= 100 and (change.abs() > 0.5).mean() > 0.1
