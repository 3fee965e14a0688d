"""Tests of the default world generator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.callbacks import Callbacks
from forestock.tables import validate
from forestock.workspace import Workspace
from forestock.world import SEASON, WorldParams, WorldResult, build_world, load_cities
from forestock.world._catalogue import make_catalogue
from forestock.world._sales import draw_cells

#: A small world: 40 SKUs, 35 regions, 120 days of history; many launches and
#: discontinuations so that both are present.
SMALL = WorldParams(seed=0, skus=40, regions=35, history_days=120, launched_share=0.2,
                    discontinued_share=0.2)
TABLES = ("regions", "warehouses", "brands", "skus", "lanes", "calendar", "history", "truth")


class _Recorder(Callbacks):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []

    def on_start(self, task: str, total: float) -> None:
        self.calls.append(("start", task, total))

    def on_step(self, task: str, advance: float) -> None:
        self.calls.append(("step", task, advance))

    def on_end(self, task: str) -> None:
        self.calls.append(("end", task, 0))


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, WorldResult, _Recorder]:
    """The SMALL world, built once, with the callbacks it reported."""
    ws = Workspace(tmp_path_factory.mktemp("world-small"))
    rec = _Recorder()
    return ws, build_world(ws, SMALL, rec), rec


def _parquet_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.parquet"))}


def test_same_seed_gives_identical_files(small: tuple[Workspace, WorldResult, _Recorder],
                                         tmp_path: Path) -> None:
    """Building the same seed twice writes byte-identical Parquet files."""
    ws, _, _ = small
    again = Workspace(tmp_path / "again")
    build_world(again, SMALL)
    first, second = _parquet_bytes(ws.root), _parquet_bytes(again.root)
    assert sorted(first) == sorted(f"{t}.parquet" for t in TABLES)
    assert first == second


def test_other_seed_gives_other_history(small: tuple[Workspace, WorldResult, _Recorder],
                                        tmp_path: Path) -> None:
    """A different seed gives a different history."""
    ws, _, _ = small
    other = Workspace(tmp_path / "other")
    build_world(other, SMALL.replace(seed=1))
    assert ws.path("history").read_bytes() != other.path("history").read_bytes()
    assert not ws.read("history").equals(other.read("history"))


def test_rows_do_not_depend_on_chunk_size(small: tuple[Workspace, WorldResult, _Recorder],
                                          tmp_path: Path) -> None:
    """Generating 7 SKUs at a time gives the same history and truth rows as the default."""
    ws, _, _ = small
    other = Workspace(tmp_path / "chunked")
    build_world(other, SMALL.replace(chunk_skus=7))
    for name in ("history", "truth"):
        pd.testing.assert_frame_equal(ws.read(name), other.read(name))


@pytest.mark.parametrize("name", TABLES)
def test_every_table_meets_its_contract(small: tuple[Workspace, WorldResult, _Recorder],
                                        name: str) -> None:
    """Every written table passes validation, references included, with the reported rows."""
    ws, result, _ = small
    frame = ws.read(name)
    validate(frame, name, known=ws.known())
    assert result.rows[name] == len(frame)


def test_regions_cover_every_province(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The regions hold all 31 provinces and their capitals, with 6-digit adcode ids."""
    ws, _, _ = small
    regions = ws.read("regions")
    assert len(regions) == SMALL.regions
    assert regions["province"].nunique() == 31
    caps = load_cities().query("capital == 1")["adcode"]
    assert set(caps) <= set(regions["region_id"])
    assert regions["region_id"].str.fullmatch(r"\d{6}").all()
    assert "440100" in set(regions["region_id"])


def test_warehouses_have_both_tiers(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The network has regional hubs and forward warehouses, each with room and throughput."""
    ws, _, _ = small
    wh = ws.read("warehouses")
    assert set(wh["tier"]) == {"rdc", "fdc"}
    assert 6 <= (wh["tier"] == "rdc").sum() <= 8
    assert (wh["storage_units"] > 0).all()
    assert (wh["outbound_per_hour"] > 0).all()
    assert wh.loc[wh["warehouse_id"] == "W440100", "name"].item() == "广州 RDC"


def test_storage_is_provisioned_for_the_peak(
        small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """Storage adds up to storage_over_event event days; each FDC holds fdc_over_served times
    the expected event-day units of the regions nearest to it (whole units, rounded up)."""
    ws, result, _ = small
    wh, lanes = ws.read("warehouses"), ws.read("lanes")
    total = SMALL.storage_over_event * result.expected_event_units
    assert total <= wh["storage_units"].sum() <= total + len(wh)
    hours = lanes.pivot(index="warehouse_id", columns="region_id", values="transit_hours")
    hours = hours.loc[wh["warehouse_id"]]
    fdc = (wh["tier"] == "fdc").to_numpy()
    nearest = np.argmin(hours.to_numpy(), axis=0)
    has_regions = np.bincount(nearest, minlength=len(wh)) > 0
    assert (wh["storage_units"].to_numpy()[fdc & has_regions] > 1).all()
    share = wh["storage_units"].to_numpy()[fdc].sum() / wh["storage_units"].sum()
    assert 0.2 < share < SMALL.fdc_over_served / SMALL.storage_over_event + 0.05


def test_lanes_cover_every_pair(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """There is exactly one lane for every warehouse and region."""
    ws, _, _ = small
    lanes, wh, regions = ws.read("lanes"), ws.read("warehouses"), ws.read("regions")
    pairs = set(zip(lanes["warehouse_id"], lanes["region_id"], strict=True))
    assert len(lanes) == len(pairs) == len(wh) * len(regions)


def test_same_city_lane_is_fastest(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """Each warehouse reaches its own region faster than any other region, in 6-10 h."""
    ws, _, _ = small
    lanes = ws.read("lanes").merge(ws.read("warehouses")[["warehouse_id", "region_id"]],
                                   on="warehouse_id", suffixes=("", "_own"))
    own = lanes[lanes["region_id"] == lanes["region_id_own"]].set_index("warehouse_id")
    others = lanes[lanes["region_id"] != lanes["region_id_own"]]
    fastest_other = others.groupby("warehouse_id")["transit_hours"].min()
    assert (own["transit_hours"] < fastest_other.loc[own.index]).all()
    assert own["transit_hours"].between(6, 10).all()


def test_far_west_is_days_from_shanghai(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """Lanes from Shanghai to Xinjiang, Tibet and Qinghai take more than 48 hours."""
    ws, _, _ = small
    lanes = ws.read("lanes").merge(ws.read("regions"), on="region_id")
    far = lanes[(lanes["warehouse_id"] == "W310000")
                & lanes["province"].isin(["新疆维吾尔自治区", "西藏自治区", "青海省"])]
    assert len(far) >= 3
    assert (far["transit_hours"] > 48).all()


def test_event_day_is_an_order_of_magnitude(
        small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The 11.11 total in truth is at least 6x the median ordinary day of history."""
    ws, result, _ = small
    hist, truth = ws.read("history"), ws.read("truth")
    events = set(ws.read("calendar")["date"])
    daily = hist.groupby("date")["units"].sum()
    ordinary = daily[~daily.index.isin(events)]
    event = truth.loc[truth["date"] == pd.Timestamp(result.event_date), "units"].sum()
    assert event >= 6 * ordinary.median()


def test_windows(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """History ends on 2027-10-10 and truth runs from 2027-10-11 through 2027-11-15."""
    ws, result, _ = small
    assert result.event_date == dt.date(2027, 11, 11)
    assert result.history_end == dt.date(2027, 10, 10)
    assert result.truth_start == dt.date(2027, 10, 11)
    assert result.truth_end == dt.date(2027, 11, 15)
    assert (result.history_end - result.history_start).days == SMALL.history_days - 1
    hist, truth = ws.read("history"), ws.read("truth")
    assert hist["date"].max() == pd.Timestamp("2027-10-10")
    assert hist["date"].min() >= pd.Timestamp(result.history_start)
    assert truth["date"].min() == pd.Timestamp("2027-10-11")
    assert truth["date"].max() == pd.Timestamp("2027-11-15")
    assert (hist["units"] > 0).all() and (truth["units"] > 0).all()
    cal = ws.read("calendar")
    assert {"11.11", "11.11 presale", SEASON} <= set(cal["event"])
    assert cal["date"].max() <= pd.Timestamp("2027-11-15")


def test_season_is_a_two_week_event_around_11_11(
        small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The calendar marks the 11.11 season on 14 consecutive days, Oct 31 to Nov 13, 11.11
    among them; its first wave sells well above the days before it."""
    ws, result, _ = small
    cal = ws.read("calendar")
    days = pd.DatetimeIndex(sorted(cal.loc[cal["event"] == SEASON, "date"]))
    this = days[days.year == SMALL.event_year]
    assert list(this) == list(pd.date_range(SMALL.season_start, SMALL.season_end))
    assert len(this) == 14 and pd.Timestamp(result.event_date) in this
    truth = ws.read("truth").groupby("date")["units"].sum()
    wave = truth[pd.Timestamp("2027-10-31"):pd.Timestamp("2027-11-03")].mean()
    before = truth[pd.Timestamp("2027-10-21"):pd.Timestamp("2027-10-30")].mean()
    assert wave > 2 * before


def test_season_adds_units_and_leaves_other_days_alone(
        small: tuple[Workspace, WorldResult, _Recorder], tmp_path: Path) -> None:
    """Without the season's lift (season_lift=1) every day outside the season's first
    days sells the same rows, and on those days every cell sells at most what it sells
    with the season: its units are drawn on top."""
    ws, _, _ = small
    flat = Workspace(tmp_path / "flat")
    build_world(flat, SMALL.replace(season_lift=1.0))
    for name in ("history", "truth"):
        with_s, without = ws.read(name), flat.read(name)
        d = with_s["date"]
        extra_days = ((d.dt.month == 10) & (d.dt.day == 31)) | ((d.dt.month == 11)
                                                                 & (d.dt.day <= 10))
        d0 = without["date"]
        extra0 = ((d0.dt.month == 10) & (d0.dt.day == 31)) | ((d0.dt.month == 11)
                                                                & (d0.dt.day <= 10))
        pd.testing.assert_frame_equal(with_s[~extra_days].reset_index(drop=True),
                                      without[~extra0].reset_index(drop=True))
        key = ["date", "sku_id", "region_id"]
        both = without[extra0].merge(with_s[extra_days], on=key, how="outer",
                                     suffixes=("_flat", "_season")).fillna(0)
        assert (both["units_season"] >= both["units_flat"]).all()
        if name == "truth":  # (the small world's history holds no season)
            assert both["units_season"].sum() > 1.5 * both["units_flat"].sum()


def test_launches_and_discontinuations(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """Launched SKUs sell nothing before launch; discontinued ones nothing after, nor in truth."""
    ws, result, _ = small
    cat = make_catalogue(SMALL.seed, SMALL.skus, SMALL.n_brands, SMALL.daily_units,
                         SMALL.history_days, SMALL.launched_share, SMALL.discontinued_share)
    ids = ws.read("skus")["sku_id"].to_numpy()
    hist, truth = ws.read("history"), ws.read("truth")
    day = (hist["date"] - pd.Timestamp(result.history_start)).dt.days
    launched, stopped = np.flatnonzero(cat.launch >= 0), np.flatnonzero(cat.stop >= 0)
    assert launched.size and stopped.size
    for i in launched:
        assert (day[hist["sku_id"] == ids[i]] >= cat.launch[i]).all()
    for i in stopped:
        assert (day[hist["sku_id"] == ids[i]] < cat.stop[i]).all()
        assert not (truth["sku_id"] == ids[i]).any()


def test_progress_is_reported(small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The callbacks see task "world" start with the SKU count, advance by it, and end."""
    _, _, rec = small
    assert rec.calls[0] == ("start", "world", SMALL.skus)
    assert sum(c[2] for c in rec.calls if c[0] == "step") == SMALL.skus
    assert rec.calls[-1] == ("end", "world", 0)


@pytest.mark.parametrize("scale", [0.05, 50.0])
def test_draw_cells_matches_independent_poissons(scale: float) -> None:
    """Both samplers (sparse at 0.05, dense at 50) have the Poisson cell means a[d] * b[r]."""
    rng = np.random.default_rng(7)
    a = scale * np.array([0.0, 1.0, 3.0, 0.5, 2.0])
    b = np.array([0.5, 0.3, 0.2, 0.0])
    lam = np.outer(a, b).ravel()
    reps = 20_000
    total = np.zeros(lam.size)
    sq = np.zeros(lam.size)
    for _ in range(reps):
        counts = np.zeros(lam.size)
        cells, units = draw_cells(rng, a, b)
        assert (np.diff(cells) > 0).all() and (units > 0).all()
        counts[cells] = units
        total += counts
        sq += counts**2
    mean = total / reps
    var = sq / reps - mean**2
    tol = 5 * np.sqrt(lam / reps) + 1e-12
    assert (np.abs(mean - lam) <= tol).all()
    assert np.allclose(var, lam, rtol=0.15, atol=1e-3)


def test_params_load_from_toml(tmp_path: Path) -> None:
    """WorldParams.from_file reads a [world] table and rejects unknown keys."""
    good = tmp_path / "world.toml"
    good.write_text("[world]\nseed = 3\nskus = 100\n", encoding="utf-8")
    assert WorldParams.from_file(good) == WorldParams(seed=3, skus=100)
    bad = tmp_path / "bad.toml"
    bad.write_text("[world]\nsku = 100\n", encoding="utf-8")
    with pytest.raises(ValueError, match="sku"):
        WorldParams.from_file(bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", -1),
        ("skus", 0),
        ("regions", 30),
        ("regions", 339),
        ("brands", 0),
        ("event_year", 2020),
        ("event_year", 2036),
        ("history_days", 27),
        ("history_days", 5000),
        ("units_per_day", 0.0),
        ("units_per_day", float("nan")),
        ("event_lift", 0.5),
        ("launched_share", 0.6),
        ("discontinued_share", -0.1),
        ("chunk_skus", 0),
        ("storage_over_event", 0.5),
        ("fdc_over_served", 0.0),
        ("fdc_over_served", 2.0),
    ],
)
def test_params_reject_bad_values(field: str, value: object) -> None:
    """WorldParams raises ValueError naming the bad field and value."""
    with pytest.raises(ValueError, match=field):
        WorldParams(**{field: value})  # type: ignore[arg-type]


def _event_gmv(params: WorldParams) -> tuple[pd.DataFrame, float]:
    """Each brand's expected GMV on the event day (list prices, no shock) worked out from the
    catalogue and the sales model, with its country and main category, and the world's
    scale as documented (the day's expected GMV over the brands' summed sizes)."""
    from forestock.world._sales import SalesModel

    p = params
    cat = make_catalogue(p.seed, p.skus, p.n_brands, p.daily_units, p.history_days,
                         p.launched_share, p.discontinued_share)
    days = p.history_days + (p.truth_end - p.truth_start).days + 1
    model = SalesModel(p.history_start, days, p.history_days - 1, p.event_lift, p.season_lift)
    event = (p.event_date - p.history_start).days
    units = model.expected(cat, np.arange(p.skus), np.array([event]))[:, 0]
    skus = cat.skus.assign(gmv=units * cat.skus["price"])
    main = (skus.groupby(["brand_id", "category"]).size().rename("n").reset_index()
            .sort_values(["brand_id", "n", "category"], ascending=[True, False, True])
            .drop_duplicates("brand_id").set_index("brand_id")["category"])
    brands = cat.brands.set_index("brand_id").assign(
        gmv=skus.groupby("brand_id")["gmv"].sum(), category=main).fillna({"gmv": 0.0})
    return brands, float(skus["gmv"].sum() / cat.sku_size.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_world_counts_brands_like_2019(seed: int) -> None:
    """At the default size (500 SKUs, 400 brands) and the world's scale, a handful of brands
    expect an 11.11 above CNY 1 billion (2019: 15, 8 foreign) and a few hundred above
    100 million (2019: 299, 7 Korean, all but one cosmetics), worked out with pandas."""
    brands, scale = _event_gmv(WorldParams(seed=seed))
    assert len(brands) == 400 and 1 / 400 < scale < 1 / 80
    top = brands[brands["gmv"] >= 1e9 * scale]
    club = brands[brands["gmv"] >= 1e8 * scale]
    assert 9 <= len(top) <= 22
    assert 0.3 <= (top["country"] != "CN").mean() <= 0.75
    assert 230 <= len(club) <= 320
    korean = club[club["country"] == "KR"]
    assert 4 <= len(korean) <= 12
    assert (korean["category"] == "beauty").sum() >= len(korean) - 2
    # no brand is the market (a SKU answering the day strongly can lift its brand a few
    # times over: the world's peak responses)
    assert brands["gmv"].max() < 0.3 * brands["gmv"].sum()


def test_market_scale_is_the_days_gmv_over_the_brands_sizes(
        small: tuple[Workspace, WorldResult, _Recorder]) -> None:
    """The world notes its scale: the event day's expected GMV over its brands' summed sizes,
    and the truth's event day sells about that GMV."""
    ws, result, _ = small
    brands, scale = _event_gmv(SMALL)
    assert result.market_scale == pytest.approx(scale, rel=1e-9)
    assert result.market_scale * result.market_gmv == pytest.approx(brands["gmv"].sum(),
                                                                    rel=1e-9)
    truth = ws.read("truth").merge(ws.read("skus"), on="sku_id")
    day = truth[truth["date"] == pd.Timestamp(result.event_date)]
    assert float((day["units"] * day["price"]).sum()) == pytest.approx(brands["gmv"].sum(),
                                                                       rel=0.3)


@pytest.mark.parametrize("n", [5, 32, 400, 1234])
def test_brand_countries_follow_their_shares(n: int) -> None:
    """Brands by country are as many as the countries' shares say (rounded by largest
    remainders), whatever the seed; every brand of a world with enough SKUs sells one."""
    from forestock.world._catalogue import _COUNTRIES, brand_countries

    share = pd.Series({c: v[0] for c, v in _COUNTRIES.items()})
    want = share / share.sum() * n
    for seed in (0, 1):
        got = pd.Series(brand_countries(np.random.default_rng(seed), n)).value_counts()
        got = got.reindex(want.index, fill_value=0)
        assert got.sum() == n
        assert ((got - want).abs() < 1).all()
    cat = make_catalogue(0, n + 10, n, 1000.0, 365, 0.1, 0.05)
    assert set(cat.skus["brand_id"]) == set(cat.brands["brand_id"])


def test_brand_sizes_follow_the_power_laws() -> None:
    """Above the knee (CNY 100 million) the share of sizes above x falls as x to the minus
    the tail's power up to the cap; the knee sits at quantile 1 - SIZE_ABOVE; a country's
    shift moves every quantile; stratified draws hold near the expected counts."""
    from forestock.world import _catalogue as C

    q = np.linspace(0.0, 0.999999, 20_001)
    s = C.size_quantile(q)
    assert (np.diff(s) >= 0).all() and s.max() <= C.SIZE_CAP * (1 + 1e-9)
    assert C.size_quantile(np.array([1 - C.SIZE_ABOVE]))[0] == pytest.approx(C.SIZE_KNEE)
    # P(size > x | above the knee), cut at the cap: (x^-a - cap^-a) / (knee^-a - cap^-a)
    a = C.SIZE_TAIL
    for x in (3e8, 1e9, 3e9):
        want = C.SIZE_ABOVE * (x ** -a - C.SIZE_CAP ** -a) / (C.SIZE_KNEE ** -a
                                                               - C.SIZE_CAP ** -a)
        assert (s > x).mean() == pytest.approx(want, abs=2e-4)
    shifted = C.size_quantile(np.array([0.5, 0.9]), -1.0)
    assert shifted == pytest.approx(C.size_quantile(np.array([0.5, 0.9])) * np.exp(-1.0),
                                    rel=0.02)
    country = np.array(["CN"] * 1000)
    sizes = C.brand_sizes(np.random.default_rng(3), country)
    above = (C.size_quantile(np.linspace(0, 1, 100_001)[:-1], C._COUNTRIES["CN"][1])
             >= 1e9).mean()
    assert abs((sizes >= 1e9).sum() - 1000 * above) <= 1
