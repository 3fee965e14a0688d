"""Window totals: quantiles of a multi-day window's total, and the correlation behind them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forestock.forecast
import forestock.forecast._blocks
import forestock.forecast._total
from forestock import Workspace
from forestock.cli import main
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast import (
    Combined,
    ForecastParams,
    ForecastProblem,
    HeldOut,
    TotalCorrelation,
    forecast_blocks,
    forecast_with_totals,
    market_error,
    nb_quantiles,
    own_spread,
    target_window,
    total_correlation,
    window_totals,
)
from forestock.forecast._panel import build_panel
from forestock.forecast._total import LEVEL_PERIODS, recover_dispersion
from forestock.tables import validate
from forestock.world import WorldParams, build_world

LEVELS = (0.1, 0.5, 0.9)
CHEAP = ForecastParams(rounds=10, max_train_rows=5_000)
EMPTY_CALENDAR = pd.DataFrame({"date": pd.to_datetime([]), "event": pd.Series([], dtype=object)})


def _forecast_table(mu: np.ndarray, phi: np.ndarray, skus: list[str], regions: list[str],
                    days: int) -> pd.DataFrame:
    """A forecast table over ``skus`` x ``regions`` x ``days`` dates with NB quantiles."""
    s, r, d = np.meshgrid(np.arange(len(skus)), np.arange(len(regions)), np.arange(days),
                          indexing="ij")
    q = nb_quantiles(mu, phi, LEVELS)
    return pd.DataFrame({
        "sku_id": np.asarray(skus, dtype=object)[s.ravel()],
        "region_id": np.asarray(regions, dtype=object)[r.ravel()],
        "date": pd.Timestamp("2027-11-01") + pd.to_timedelta(d.ravel(), unit="D"),
        "mean": mu, "q10": q[0], "q50": q[1], "q90": q[2],
    })


def _shocked_history(rho_days: float, rho_regions: float, phi: float = 0.5, skus: int = 80,
                     regions: int = 5, days: int = 420, block: int = 22, seed: int = 0,
                     rho_market: float = 0.0) -> pd.DataFrame:
    """Daily sales whose multiplicative errors share a SKU shock and a series shock per block.

    Counts are Poisson around ``mu * M * A_sku * A_series * B_day`` (gamma factors of mean 1),
    the blocks of ``block`` days aligned with the last 364 days: two days of a series
    correlate by ``rho_days``, two cells of a SKU in different regions by ``rho_regions``,
    two cells of different SKUs by ``rho_market`` (``M``, one per block for every series;
    none at 0), and a day's extra-Poisson variance is ``phi mu^2``.
    """
    rng = np.random.default_rng(seed)
    n = skus * regions
    mu = rng.gamma(2.0, 10.0, n)
    a_m = rho_market * phi
    a_n = (1 + rho_regions * phi) / (1 + a_m) - 1
    a_r = (1 + rho_days * phi) / (1 + rho_regions * phi) - 1
    b = (1 + phi) / (1 + rho_days * phi) - 1
    blk = (np.arange(days) - (days - 364)) // block
    blk -= blk.min()

    def gamma(var: float, shape: tuple[int, ...]) -> np.ndarray:
        return rng.gamma(1 / var, var, shape) if var > 0 else np.ones(shape)

    sku_shock = gamma(a_n, (skus, int(blk.max()) + 1))[np.arange(n) // regions][:, blk]
    series_shock = gamma(a_r, (n, int(blk.max()) + 1))[:, blk]
    level = mu[:, None] * sku_shock * series_shock
    if a_m > 0:
        level = level * gamma(a_m, (1, int(blk.max()) + 1))[:, blk]
    y = rng.poisson(level * gamma(b, (n, days)))
    dates = pd.date_range("2024-01-01", periods=days)
    out = pd.DataFrame({
        "date": np.tile(dates, n),
        "sku_id": np.repeat([f"S{i // regions:03d}" for i in range(n)], days),
        "region_id": np.repeat([f"R{i % regions}" for i in range(n)], days),
        "units": y.ravel(),
    })
    return out[out["units"] > 0].reset_index(drop=True)


def test_one_day_window_keeps_the_forecasts_quantiles() -> None:
    """A one-day window's SKU x region totals are the forecast's own rows, quantiles and all."""
    rng = np.random.default_rng(0)
    mu = rng.gamma(0.7, 15.0, 6 * 4)
    table = _forecast_table(mu, rng.choice([0.0, 0.1, 0.6, 3.0], mu.size),
                            [f"S{i}" for i in range(6)], ["A", "B", "C", "D"], 1)
    table.loc[3, ["q10", "q50", "q90"]] = [1.0, 7.0, 40.0]  # a baseline's, not a NB's
    got = window_totals(table, TotalCorrelation(0.4, 0.2))
    cells = got[got["region_id"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(cells[["sku_id", "region_id", "mean", "q10", "q50", "q90"]],
                                  table.drop(columns="date"), check_dtype=False)
    assert (cells["days"] == 1).all() and (cells["start"] == cells["end"]).all()
    national = got[got["region_id"].isna()].set_index("sku_id")["mean"]
    np.testing.assert_allclose(national, table.groupby("sku_id")["mean"].sum())


@pytest.mark.parametrize(("rho_days", "rho_regions"), [(0.0, 0.0), (0.5, 0.2), (0.8, 0.8)])
@pytest.mark.parametrize("given", [True, False], ids=["phi-given", "phi-recovered"])
def test_totals_match_a_monte_carlo_oracle(rho_days: float, rho_regions: float,
                                           given: bool) -> None:
    """q10/q90 of a series' and a SKU's 22-day total match simulated correlated sums."""
    rng = np.random.default_rng(1)
    regions, days, phi, draws = 4, 22, 0.3, 25_000
    mu = rng.uniform(2.0, 30.0, (regions, days))
    table = _forecast_table(mu.ravel(), np.full(mu.size, phi), ["S"], list("ABCD"), days)
    got = window_totals(table, TotalCorrelation(rho_days, rho_regions),
                        dispersion=np.full(mu.size, phi) if given else None)
    # the oracle: gamma factors for the SKU, the region and the day, Poisson counts
    a_n = rho_regions * phi
    a_r = (1 + rho_days * phi) / (1 + rho_regions * phi) - 1
    b = (1 + phi) / (1 + rho_days * phi) - 1

    def gamma(var: float, shape: tuple[int, ...]) -> np.ndarray:
        return rng.gamma(1 / var, var, shape) if var > 0 else np.ones(shape)

    lam = (mu[None] * gamma(a_n, (draws, 1, 1)) * gamma(a_r, (draws, regions, 1))
           * gamma(b, (draws, regions, days)))
    per_region = rng.poisson(lam).sum(axis=2)
    sims = {**{r: per_region[:, k] for k, r in enumerate("ABCD")}, None: per_region.sum(axis=1)}
    for region, sim in sims.items():
        row = got[got["region_id"].isna()] if region is None else got[got["region_id"] == region]
        want = np.quantile(sim, [0.1, 0.9])
        np.testing.assert_allclose(row[["q10", "q90"]].to_numpy()[0], want, rtol=0.04)
        assert row["mean"].item() == pytest.approx(sim.mean(), rel=0.01)


def test_national_q90_is_less_than_the_sum_of_the_regions() -> None:
    """A SKU's national q90 over the window is below the sum of its regions' q90s."""
    rng = np.random.default_rng(2)
    mu = rng.gamma(1.0, 8.0, 5 * 6 * 22)
    table = _forecast_table(mu, np.full(mu.size, 0.3), [f"S{i}" for i in range(5)],
                            [f"R{i}" for i in range(6)], 22)
    got = window_totals(table, TotalCorrelation(0.6, 0.3))
    cells = got[got["region_id"].notna()].groupby("sku_id")["q90"].sum()
    national = got[got["region_id"].isna()].set_index("sku_id")["q90"]
    assert (national < cells).all()
    daily = table.groupby(["sku_id", "region_id"])["q90"].sum()
    regional = got[got["region_id"].notna()].set_index(["sku_id", "region_id"])["q90"]
    assert (regional < daily.reindex(regional.index)).all()  # and a series' below its days'


@pytest.mark.parametrize(("rho_days", "rho_regions"), [(0.0, 0.0), (0.6, 0.3)])
def test_total_correlation_recovers_a_known_rho(rho_days: float, rho_regions: float) -> None:
    """Block shocks of known correlation come back within 0.15 (the naive level's own error
    reads as shared, a little upward)."""
    history = _shocked_history(rho_days, rho_regions)
    got = total_correlation(history, EMPTY_CALENDAR, 22)
    assert got.days == pytest.approx(rho_days, abs=0.15)
    assert got.regions == pytest.approx(rho_regions, abs=0.15)
    assert got.block == 22 and 0.95 * 80 * 5 * 16 <= got.blocks <= 80 * 5 * 16
    assert 0.95 * 80 * 16 <= got.groups <= 80 * 16
    assert got.dispersion == pytest.approx(0.5, rel=0.5)


def test_total_correlation_recovers_a_known_market_share() -> None:
    """A shock common to every SKU per block comes back within 0.1 of its share of the
    errors (16 blocks: 16 draws of it); without one, near 0."""
    got = total_correlation(_shocked_history(0.6, 0.4, rho_market=0.25), EMPTY_CALENDAR, 22)
    assert got.market == pytest.approx(0.25, abs=0.1)
    assert got.market <= got.regions <= got.days
    none = total_correlation(_shocked_history(0.6, 0.4), EMPTY_CALENDAR, 22)
    assert none.market < 0.05


def _loop_correlation(history: pd.DataFrame, calendar: pd.DataFrame, days: int
                      ) -> tuple[float, float, float, float]:
    """The obvious per-series, per-block loops of :func:`panel_correlation`."""
    last = pd.Timestamp(history["date"].max()).date()
    p = build_panel(history, calendar, Window("h", last, last))
    n, m, k = p.n_hist, min(max(days, 2), 28), LEVEL_PERIODS[p.freq]
    ordinary = [t for t in range(n) if p.ordinary[t]]
    first = max(n - 364, ordinary[k - 1] + 1)
    starts, t = [], first
    while t + m <= n:
        if all(p.ordinary[t:t + m]):
            starts.append(t)
            t += m
        else:
            t += 1
    rows = []  # (series, block, L, E, sum e^2)
    for i in range(p.n_series):
        for b, t0 in enumerate(starts):
            before = [u for u in ordinary if u < t0][-k:]
            level = float(np.mean(p.Y[i, before].astype(float)))
            if level > 0:
                e = p.Y[i, t0:t0 + m].astype(float) - level
                rows.append((i, b, level, e.sum(), (e * e).sum()))
    phi = max(sum(r[4] - m * r[2] for r in rows) / sum(m * r[2] ** 2 for r in rows), 1e-6)
    num = sum(r[3] ** 2 - m * r[2] - phi * m * r[2] ** 2 for r in rows)
    rho_d = min(max(num / (phi * sum((m * m - m) * r[2] ** 2 for r in rows)), 0.0), 1.0)
    cross_e = cross_l = 0.0
    for a in rows:
        for c in rows:
            if a[1] == c[1] and a[0] != c[0] and p.series_sku[a[0]] == p.series_sku[c[0]]:
                cross_e += a[3] * c[3]
                cross_l += m * a[2] * m * c[2]
    rho_n = min(max(cross_e / (phi * cross_l), 0.0), rho_d) if cross_l else 0.0
    market_e = market_l = 0.0
    for a in rows:
        for c in rows:
            if a[1] == c[1] and p.series_sku[a[0]] != p.series_sku[c[0]]:
                market_e += a[3] * c[3]
                market_l += m * a[2] * m * c[2]
    rho_m = min(max(market_e / (phi * market_l), 0.0), rho_n) if market_l else 0.0
    return rho_d, rho_n, phi, rho_m


def test_panel_correlation_matches_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised moments, a few series at a time, equal per-series, per-block loops,
    events cutting the runs."""
    monkeypatch.setattr(forestock.forecast._total, "_CHUNK_CELLS", 500)
    history = _shocked_history(0.5, 0.3, skus=4, regions=3, days=150, block=9, seed=3,
                               rho_market=0.2)
    calendar = pd.DataFrame({"date": pd.to_datetime(["2024-03-05", "2024-03-06", "2024-04-20"]),
                             "event": ["sale", "sale", "day"]})
    got = total_correlation(history, calendar, 9)
    want = _loop_correlation(history, calendar, 9)
    assert got.market > 0
    np.testing.assert_allclose([got.days, got.regions, got.dispersion, got.market], want,
                               rtol=1e-9)


def test_dispersion_recovery_reproduces_the_quantiles() -> None:
    """Recovered dispersions give back nearly every q90 and the cells' variance in sum."""
    rng = np.random.default_rng(4)
    mu = rng.gamma(0.8, 20.0, 4000) + 0.05
    phi = rng.choice([0.0, 0.05, 0.15, 0.3, 0.6, 1.3, 3.0], mu.size)
    q = nb_quantiles(mu, phi, LEVELS)
    got = recover_dispersion(mu, q, LEVELS)
    back = nb_quantiles(mu, got, LEVELS)
    assert np.mean(back[2] == q[2]) > 0.93
    big = mu > 5
    assert np.sum(got[big] * mu[big] ** 2) == pytest.approx(np.sum(phi[big] * mu[big] ** 2),
                                                            rel=0.05)
    assert (recover_dispersion(np.array([0.0, 0.05]), np.zeros((3, 2)), LEVELS) == 0).all()


def test_block_totals_equal_the_in_memory_ones(tmp_path: Path,
                                               tiny: dict[str, pd.DataFrame]) -> None:
    """forecast_blocks' totals use the first block's correlation and equal window_totals."""
    ws = Workspace(tmp_path / "ws")
    ws.write_many({k: tiny[k] for k in ("regions", "brands", "skus", "calendar")})
    ws.write("history", tiny["history"], check=False)
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), "추석 세일")
    parts: list[pd.DataFrame] = []
    totals: list[pd.DataFrame] = []
    report = forecast_blocks(ws.path("history"), tiny["calendar"], w, tiny["skus"],
                             tiny["regions"], CHEAP, sink=parts.append, totals=totals.append,
                             block_series=1_000_000)
    corr = total_correlation(tiny["history"], tiny["calendar"], w.days)
    got = report.correlation
    assert got is not None and (got.blocks, got.groups) == (corr.blocks, corr.groups)
    np.testing.assert_allclose([got.days, got.regions], [corr.days, corr.regions], rtol=1e-9,
                               atol=1e-12)
    want = window_totals(pd.concat(parts, ignore_index=True), got)
    pd.testing.assert_frame_equal(pd.concat(totals, ignore_index=True), want)
    # the market's error: the ordinary periods' and the first block's held-out occurrence
    assert report.market is not None and report.market.errors == ()  # (the event's first)
    assert report.market.ordinary == pytest.approx(np.sqrt(got.market * got.dispersion))
    assert report.market.own == pytest.approx(own_spread(want))
    validate(want, "forecast_total", known={"skus": tiny["skus"]["sku_id"],
                                            "regions": tiny["regions"]["region_id"]})


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded world with 10 SKUs and 31 regions (seed 0), built once."""
    root = tmp_path_factory.mktemp("world") / "ws"
    build_world(Workspace(root), WorldParams(seed=0, skus=10, regions=31))
    return root


@pytest.mark.parametrize(
    ("blocks", "args"),
    [(False, ["--event", "11.11 presale", "--method", "seasonal_naive"]),
     (True, ["--start", "2027-10-11", "--end", "2027-10-12"])],
    ids=["in-memory", "blocks"],
)
def test_cli_writes_forecast_total(blocks: bool, args: list[str], small_world: Path,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock forecast` writes forecast_total: national means sum the cells', q90s less.

    The block path is forced by a block threshold of one cell, with a quick model.
    """
    if blocks:
        monkeypatch.setattr(forestock.forecast, "BLOCK_CELLS", 1)
        monkeypatch.setattr(forestock.forecast._blocks, "ForecastParams", lambda: CHEAP)
    ws = Workspace(shutil.copytree(small_world, tmp_path / "ws"))
    assert main(["forecast", "-w", str(ws.root), *args]) == 0
    assert "Window total" in capsys.readouterr().out
    fc, tot = ws.read("forecast"), ws.read("forecast_total")
    days = fc["date"].nunique()
    assert days > 1 and len(tot) == 10 * 31 + 10
    national = tot[tot["region_id"].isna()].set_index("sku_id")
    np.testing.assert_allclose(national["mean"], fc.groupby("sku_id")["mean"].sum()
                               .reindex(national.index), rtol=1e-9)
    assert (national["days"] == days).all()
    cells = tot[tot["region_id"].notna()]
    assert (national["q90"] <= cells.groupby("sku_id")["q90"].sum()).all()
    note = ws.notes()["forecast"]
    assert 0 <= note["correlation_regions"] <= note["correlation_days"] <= 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TotalCorrelation(1.2, 0.0), "days"),
        (lambda: TotalCorrelation(0.2, 0.5), "regions"),
        (lambda: total_correlation(_shocked_history(0, 0, skus=2, days=60), EMPTY_CALENDAR, 0),
         "days"),
        (lambda: window_totals(pd.DataFrame({"sku_id": ["S"], "region_id": ["R"],
                                             "date": ["2027-11-01"], "mean": [1.0]}),
                               TotalCorrelation(0, 0)), "quantile"),
        (lambda: window_totals(_forecast_table(np.ones(2), np.zeros(2), ["S"], ["R"], 2),
                               TotalCorrelation(0, 0), dispersion=np.ones(3)), "dispersion"),
    ],
)
def test_bad_arguments_are_refused(make: object, message: str) -> None:
    """Correlations outside [0, 1] or above days, no quantiles, wrong dispersions: refused."""
    with pytest.raises((ValueError, ForestockError), match=message):
        make()  # type: ignore[operator]


def test_a_short_history_warns_and_treats_days_apart() -> None:
    """Without one measurable block the correlation is 0, with a warning saying so."""
    from forestock.errors import ForestockWarning

    history = _shocked_history(0.5, 0.5, skus=2, regions=2, days=40, block=22)
    with pytest.warns(ForestockWarning, match="too short"):
        got = total_correlation(history, EMPTY_CALENDAR, 22)
    assert got.days == 0 and got.regions == 0 and got.blocks == 0


def test_market_error_shrinks_the_held_out_occurrence_towards_the_ordinary_periods() -> None:
    """One occurrence 20% low, the SKUs' own spread 5%, ordinary periods 3%: the market's
    variance is the mean of the ordinary periods' (one occurrence's worth) and the
    occurrence's less its own part; the weight chosen picks the forecast; without an
    occurrence (or with the event's first, forecast without a past lift) the ordinary
    periods alone; with an occurrence inside its own spread, half the ordinary periods'
    variance."""
    corr = TotalCorrelation(0.5, 0.3, dispersion=0.03, market=0.03)  # 0.0009: 3% sd
    held = HeldOut(Window("e", dt.date(2026, 11, 11), dt.date(2026, 11, 11)), 120.0,
                   {1.0: 100.0, 0.8: 120.0}, comparable=True)
    got = market_error(corr, held, 1.0, own=0.05)
    e = np.log(1.2)
    assert got.errors == pytest.approx((e,))
    assert got.sd == pytest.approx(np.sqrt((0.0009 + e * e - 0.0025) / 2))
    assert got.ordinary == pytest.approx(0.03) and got.own == 0.05 and got.prior == 1.0
    assert market_error(corr, held, 0.8).sd == pytest.approx(np.sqrt(0.0009 / 2))
    assert market_error(corr).sd == pytest.approx(0.03)
    assert market_error(corr, [held, held], 1.0).sd == pytest.approx(
        np.sqrt((0.0009 + 2 * e * e) / 3))
    assert market_error(corr, held, 1.0, own=0.5).sd == pytest.approx(np.sqrt(0.0009 / 2))
    # an event's first occurrence, forecast without a past lift, is not a sample
    first = dataclasses.replace(held, comparable=False)
    assert market_error(corr, first, 1.0).errors == ()
    assert market_error(corr, first, 1.0).sd == pytest.approx(0.03)
    with pytest.raises(ValueError, match="prior"):
        market_error(corr, held, prior=0.0)
    with pytest.raises(ValueError, match="market must lie"):
        TotalCorrelation(0.5, 0.3, market=0.4)


def test_forecast_with_totals_measures_the_market_on_the_held_out_occurrence(
        small_world: Path, tiny: dict[str, pd.DataFrame]) -> None:
    """forestock's forecast of the world's 2027 11.11 holds out its 2026 one (the 2025 one
    before it): its national error is the market measurement's one sample (the
    combination's forecast at the weight it chose for each day's total); a baseline has
    none and keeps the ordinary periods'; so does the tiny history, whose held-out
    occurrence is its first."""
    ws = Workspace(small_world)
    t = {k: ws.read(k) for k in ("history", "calendar", "skus", "regions")}
    w = target_window(t["calendar"], pd.Timestamp(t["history"]["date"].max()).date(), "11.11")
    args = (t["history"], t["calendar"], w, t["skus"], t["regions"], CHEAP)
    got = forecast_with_totals(*args)
    m = Combined(CHEAP).fit(ForecastProblem(*args[:5]))
    assert m.held_ is not None and m.held_.actual > 0 and m.held_.comparable
    assert m.held_.window.start == dt.date(2026, 11, 11)
    assert got.market.errors == pytest.approx((np.log(m.held_.actual
                                                      / m.held_.forecast[m.total_weight_]),))
    assert got.market.own == pytest.approx(own_spread(got.totals))
    assert got.market.ordinary == pytest.approx(
        np.sqrt(got.correlation.market * got.correlation.dispersion))
    naive = forecast_with_totals(*args, method="seasonal_naive")
    assert naive.market.errors == () and naive.market.sd == pytest.approx(naive.market.ordinary)
    wt = target_window(tiny["calendar"], dt.date(2026, 8, 31), "추석 세일")
    first = forecast_with_totals(tiny["history"], tiny["calendar"], wt, tiny["skus"],
                                 tiny["regions"], CHEAP)
    assert first.market.errors == () and first.market.sd == pytest.approx(
        first.market.ordinary)
