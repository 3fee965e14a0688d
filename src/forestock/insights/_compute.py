"""The insights themselves: plain functions over DataFrames, aggregates in DuckDB SQL.

Each function takes the flow's tables (as in the workspace) and returns one
insight table; none reads a file, so a notebook can call them in memory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from forestock.events import Window, normalise_calendar, occurrences

__all__ = [
    "PRICE_BANDS",
    "SIZE_BANDS",
    "brand_counts",
    "counterfactual_calendar",
    "elasticity",
    "event_comparison",
    "event_lift",
    "forecast_error",
    "late_reasons",
    "leaderboard",
    "misses",
    "moves",
    "ordinary_level",
    "promo_points",
    "share_gap",
    "stock_post_mortem",
    "taste",
]

log = logging.getLogger("forestock.insights")

#: Price bands (CNY, lower bounds) of the lift by price band.
PRICE_BANDS: tuple[float, ...] = (0.0, 50.0, 200.0, 1000.0)
#: SKU size bands (the SKU's national units per ordinary day over the history's last 28 days).
SIZE_BANDS: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0, 1000.0)


def _connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB on one thread: parallel float sums add in a varying order, and
    the insights must be the same bit for bit from run to run."""
    return duckdb.connect(":memory:", config={"threads": 1})


def _sql(query: str, **frames: pd.DataFrame) -> pd.DataFrame:
    """Run ``query`` in an in-memory DuckDB over ``frames`` (each a view of its name)."""
    con = _connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame)
        return con.execute(query).df()
    finally:
        con.close()


def _by_dimension(measures: str, dimensions: Sequence[tuple[str, str]],
                  **frames: pd.DataFrame) -> pd.DataFrame:
    """``measures`` (SQL aggregates over ``x JOIN k USING (sku_id)``) per item of each
    dimension (``(name, SQL expression of the item)``), stacked with a ``dimension``
    column; one DuckDB connection serves every dimension."""
    con = _connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame)
        parts = []
        for dim, item in dimensions:
            f = con.execute(f"SELECT {item} AS item, {measures} FROM x JOIN k USING (sku_id) "
                            "GROUP BY 1 ORDER BY 1").df()
            f.insert(0, "dimension", dim)
            parts.append(f)
    finally:
        con.close()
    return pd.concat(parts, ignore_index=True)


def _band(values: pd.Series | np.ndarray, bounds: Sequence[float], unit: str) -> np.ndarray:
    """Label of the band each value falls in: ``"50-200 CNY"``, the last ``">= 1000 CNY"``."""
    v = np.asarray(values, dtype=float)
    b = np.asarray(bounds, dtype=float)
    idx = np.searchsorted(b, v, side="right") - 1
    labels = [f"{b[i]:g}-{b[i + 1]:g} {unit}" for i in range(len(b) - 1)]
    labels.append(f">= {b[-1]:g} {unit}")
    return np.array(labels, dtype=object)[np.clip(idx, 0, len(b) - 1)]


def _brand_category(skus: pd.DataFrame) -> pd.DataFrame:
    """Each brand's main category: the one most of its SKUs are in (ties: alphabetical)."""
    n = skus.groupby(["brand_id", "category"], observed=True).size().rename("n").reset_index()
    n = n.sort_values(["brand_id", "n", "category"], ascending=[True, False, True],
                      kind="stable")
    return n.drop_duplicates("brand_id")[["brand_id", "category"]]


# ------------------------------------------------------------------ brand leaderboard


def _check_scale(scale: float) -> None:
    if not (scale > 0 and np.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale!r}")


def _tier(gmv: np.ndarray, thresholds: Sequence[float], scale: float = 1.0) -> np.ndarray:
    out = np.full(len(gmv), None, dtype=object)
    for t in sorted(thresholds):  # the highest crossed wins
        out[gmv >= t * scale] = f">= {t:,.0f}"
    return out


def leaderboard(brand_gmv: pd.DataFrame, brands: pd.DataFrame, skus: pd.DataFrame,
                thresholds: Sequence[float] = (1e9, 1e8), scope: str = "rehearsal",
                scale: float = 1.0) -> pd.DataFrame:
    """Brands by GMV, largest first, with their country, main category and highest tier.

    ``brand_gmv`` has ``brand_id``, ``units``, ``gmv`` (``outcomes_brand``, or
    :func:`history_brand_gmv`). ``scale`` is the data's size against the market the
    thresholds are set for: a brand crosses threshold ``t`` when its GMV reaches
    ``t * scale``, and ``gmv_full`` is its GMV over the scale (what it stands for at the
    thresholds' market size; the GMV itself at scale 1).
    """
    _check_scale(scale)
    cat = _brand_category(skus)
    out = _sql(
        "SELECT g.brand_id, coalesce(b.name, g.brand_id) AS name, "
        "coalesce(b.country, '') AS country, coalesce(c.category, '') AS category, "
        "CAST(g.units AS BIGINT) AS units, CAST(g.gmv AS DOUBLE) AS gmv "
        "FROM g LEFT JOIN b USING (brand_id) LEFT JOIN c USING (brand_id) "
        "ORDER BY gmv DESC, g.brand_id",
        g=brand_gmv[["brand_id", "units", "gmv"]], b=brands, c=cat)
    out.insert(0, "scope", scope)
    out["rank"] = np.arange(1, len(out) + 1, dtype=np.int64)
    out["gmv_full"] = out["gmv"] / scale
    out["tier"] = _tier(out["gmv"].to_numpy(dtype=float), thresholds, scale)
    return out


def history_brand_gmv(sales: pd.DataFrame, skus: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Units and GMV per brand on ``day`` of a sales table (at the SKUs' list prices)."""
    return _sql(
        "SELECT k.brand_id, sum(s.units) AS units, sum(s.units * k.price) AS gmv "
        "FROM s JOIN k USING (sku_id) WHERE CAST(s.date AS DATE) = ? "
        "GROUP BY k.brand_id".replace("?", f"DATE '{day.isoformat()}'"),
        s=sales, k=skus[["sku_id", "brand_id", "price"]])


def brand_counts(board: pd.DataFrame, thresholds: Sequence[float] = (1e9, 1e8),
                 scale: float = 1.0) -> pd.DataFrame:
    """Brands at or above each threshold per scope, by country and category.

    A brand counts when its GMV reaches ``applied = threshold * scale`` (see
    :func:`leaderboard`). Rows with country ``all`` sum over countries, category ``all``
    over categories.
    """
    _check_scale(scale)
    rows = []
    for t in sorted(thresholds, reverse=True):
        at = float(t) * scale
        hit = board[board["gmv"] >= at]
        for scope in pd.unique(board["scope"]):
            mine = hit[hit["scope"] == scope]
            rows.append((scope, float(t), at, "all", "all", len(mine)))
            for (country, category), n in mine.groupby(["country", "category"]).size().items():
                rows.append((scope, float(t), at, country, category, int(n)))
            for country, n in mine.groupby("country").size().items():
                rows.append((scope, float(t), at, country, "all", int(n)))
    out = pd.DataFrame(rows, columns=["scope", "threshold", "applied", "country", "category",
                                      "brands"])
    return out.drop_duplicates(["scope", "threshold", "country", "category"]).reset_index(
        drop=True)


# ------------------------------------------------------------------ regional taste


def taste(sales: pd.DataFrame, skus: pd.DataFrame, period: str) -> pd.DataFrame:
    """Location quotients of every category and brand in every region, over ``sales``.

    ``lq = (units of item in region / units of item) / (units in region / all units)``:
    above 1 the region buys more of the item than its size says.
    """
    frames = []
    for level, col in (("category", "category"), ("brand", "brand_id")):
        q = (
            "WITH x AS (SELECT CAST(k." + col + " AS VARCHAR) AS item, "
            "CAST(s.region_id AS VARCHAR) AS region_id, sum(s.units)::DOUBLE AS units "
            "FROM s JOIN k ON CAST(s.sku_id AS VARCHAR) = k.sku_id GROUP BY ALL), "
            "it AS (SELECT item, sum(units) AS iu FROM x GROUP BY item), "
            "rg AS (SELECT region_id, sum(units) AS ru FROM x GROUP BY region_id), "
            "tot AS (SELECT sum(units) AS tu FROM x) "
            "SELECT x.item, x.region_id, x.units, x.units / it.iu AS share, "
            "rg.ru / tot.tu AS national_share, (x.units / it.iu) / (rg.ru / tot.tu) AS lq "
            "FROM x JOIN it USING (item) JOIN rg USING (region_id), tot "
            "ORDER BY x.item, x.region_id"
        )
        f = _sql(q, s=sales[["sku_id", "region_id", "units"]],
                 k=skus[["sku_id", "brand_id", "category"]].astype(str))
        f.insert(0, "level", level)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.insert(3, "period", period)
    return out


def ordinary_days(history: pd.DataFrame, calendar: pd.DataFrame, days: int = 365
                  ) -> pd.DataFrame:
    """The history's last ``days`` days that carry no calendar event."""
    cal = normalise_calendar(calendar)
    last = pd.Timestamp(history["date"].max())
    d = pd.to_datetime(history["date"])
    keep = (d > last - pd.Timedelta(days=days)) & ~d.isin(set(cal["date"]))
    return history.loc[keep.to_numpy()]


# ------------------------------------------------------------------ event lift


def counterfactual_calendar(calendar: pd.DataFrame, window: Window) -> pd.DataFrame:
    """``calendar`` without the events on ``window``'s days, each occurrence touching the
    window blanked whole (a multi-day event around the window too, such as the 11.11
    season around 11.11: left in, its days before and after would still mark the window
    as part of an event): forecast with it, forestock's model sees the window as ordinary
    days (no event features), and so gives the no-event counterfactual of the same model
    fitted on the same history. Occurrences wholly outside the window stay."""
    cal = normalise_calendar(calendar)
    drop = np.zeros(len(cal), dtype=bool)
    day = cal["date"].dt.date
    for name in pd.unique(cal["event"]):
        for occ in occurrences(cal, str(name)):
            if occ.start <= window.end and occ.end >= window.start:
                drop |= ((cal["event"] == name) & (day >= occ.start)
                         & (day <= occ.end)).to_numpy()
    return cal.loc[~drop].reset_index(drop=True)


def _window_cells(truth: pd.DataFrame, counterfactual: pd.DataFrame, skus: pd.DataFrame
                  ) -> pd.DataFrame:
    """Actual and counterfactual units per SKU, region and date of the counterfactual's days."""
    return _sql(
        "WITH a AS (SELECT CAST(sku_id AS VARCHAR) AS sku_id, CAST(region_id AS VARCHAR) "
        "AS region_id, CAST(date AS DATE) AS date, sum(units)::DOUBLE AS units FROM t "
        "WHERE CAST(date AS DATE) IN (SELECT DISTINCT CAST(date AS DATE) FROM c) GROUP BY ALL), "
        "f AS (SELECT CAST(sku_id AS VARCHAR) AS sku_id, CAST(region_id AS VARCHAR) AS "
        "region_id, CAST(date AS DATE) AS date, mean FROM c) "
        "SELECT sku_id, region_id, date, coalesce(a.units, 0) AS units, "
        "coalesce(f.mean, 0) AS counterfactual FROM a FULL JOIN f USING (sku_id, region_id, date)",
        t=truth, c=counterfactual)


def event_lift(truth: pd.DataFrame, counterfactual: pd.DataFrame, skus: pd.DataFrame
               ) -> pd.DataFrame:
    """Units and GMV the event added over the counterfactual, by brand, category, region,
    price band and in total (dimension ``total``), GMV at the SKUs' list prices."""
    cells = _window_cells(truth, counterfactual, skus)
    k = skus[["sku_id", "brand_id", "category", "price"]].astype({"sku_id": str,
                                                                   "brand_id": str})
    k = k.assign(price_band=_band(k["price"], PRICE_BANDS, "CNY"))
    out = _by_dimension(
        "sum(x.units) AS units, sum(x.counterfactual) AS counterfactual, "
        "sum(x.units) - sum(x.counterfactual) AS added_units, sum(x.units * k.price) AS gmv, "
        "sum(x.counterfactual * k.price) AS counterfactual_gmv, "
        "sum((x.units - x.counterfactual) * k.price) AS added_gmv",
        (("total", "'all'"), ("brand", "k.brand_id"), ("category", "k.category"),
         ("region", "x.region_id"), ("price_band", "k.price_band")), x=cells, k=k)
    cf = out["counterfactual"].to_numpy(dtype=float)
    out["lift"] = np.where(cf > 0, out["units"].to_numpy(dtype=float) / np.where(cf > 0, cf, 1),
                           np.nan)
    return out


def promo_points(prices: pd.DataFrame, truth: pd.DataFrame, counterfactual: pd.DataFrame,
                 skus: pd.DataFrame) -> pd.DataFrame:
    """Per SKU: the event's mean price over its list price (``skus.price``), and its lift
    (window units over the counterfactual's), where both are known."""
    cells = _window_cells(truth, counterfactual, skus)
    return _sql(
        "WITH p AS (SELECT CAST(sku_id AS VARCHAR) AS sku_id, avg(price) AS price FROM pr "
        "WHERE CAST(date AS DATE) IN (SELECT DISTINCT date FROM x) GROUP BY 1), "
        "l AS (SELECT sku_id, sum(units) AS units, sum(counterfactual) AS cf FROM x GROUP BY 1) "
        "SELECT l.sku_id, p.price / k.price AS price_ratio, 1 - p.price / k.price AS depth, "
        "l.units / l.cf AS lift FROM l JOIN p USING (sku_id) JOIN k USING (sku_id) "
        "WHERE l.cf > 0 AND l.units > 0 AND k.price > 0 AND p.price > 0 ORDER BY l.sku_id",
        pr=prices, x=cells, k=skus[["sku_id", "price"]].astype({"sku_id": str}))


def elasticity(points: pd.DataFrame) -> pd.DataFrame:
    """OLS (statsmodels) of ``log(lift)`` on ``log(price_ratio)``; the elasticity is minus
    the slope (``term`` ``elasticity``). Empty when fewer than 3 SKUs or no price varies."""
    import statsmodels.api as sm

    cols = ["term", "estimate", "std_error", "p_value", "n"]
    x = np.log(points["price_ratio"].to_numpy(dtype=float))
    y = np.log(points["lift"].to_numpy(dtype=float))
    if len(points) < 3 or np.ptp(x) <= 0:
        return pd.DataFrame(columns=cols)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    n = int(fit.nobs)
    return pd.DataFrame([
        ("intercept", fit.params[0], fit.bse[0], fit.pvalues[0], n),
        ("elasticity", -fit.params[1], fit.bse[1], fit.pvalues[1], n),
    ], columns=cols)


# ------------------------------------------------------------------ event comparison


def ordinary_level(daily: pd.Series, busy: set[pd.Timestamp], first: pd.Timestamp,
                   days: int = 28) -> float:
    """Units of an ordinary day before ``first``: the mean of ``daily`` (units per date)
    over the ``days`` before it that are not in ``busy`` (event dates); NaN where the
    sales cover none of them."""
    before = daily.loc[first - pd.Timedelta(days=days):first - pd.Timedelta(days=1)]
    before = before[~before.index.isin(busy)]
    return float(before.mean()) if len(before) else float("nan")


def event_comparison(sales: pd.DataFrame, calendar: pd.DataFrame,
                     rehearsed: Window | None = None,
                     second_units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every occurrence of every calendar event the sales cover, with its units per day,
    lift over the ordinary days of the 28 before it, and share of the 365 days ending on
    its last day (blank when the sales do not cover them). ``peak_hour_share`` (the busiest
    hour's share of the day's units) is known for the rehearsed day only, from
    ``outcomes_second`` (``second_units``)."""
    cal = normalise_calendar(calendar)
    daily = _sql("SELECT CAST(date AS DATE) AS date, sum(units)::DOUBLE AS units FROM s "
                 "GROUP BY 1 ORDER BY 1", s=sales[["date", "units"]])
    daily["date"] = pd.to_datetime(daily["date"])
    series = daily.set_index("date")["units"]
    first, last = series.index.min(), series.index.max()
    busy = set(cal["date"])
    rows = []
    for name in sorted(pd.unique(cal["event"])):
        for w in occurrences(cal, name):
            a, b = pd.Timestamp(w.start), pd.Timestamp(w.end)
            if a < first or b > last:
                continue
            days = (b - a).days + 1
            units = float(series.loc[a:b].sum())
            ordinary = ordinary_level(series, busy, a)
            year_from = b - pd.Timedelta(days=364)
            share = units / float(series.loc[year_from:b].sum()) if year_from >= first \
                else np.nan
            src = "rehearsal" if rehearsed is not None and rehearsed.start == w.start and \
                rehearsed.event == name else "history"
            peak = np.nan
            if src == "rehearsal" and second_units is not None and days == 1:
                hours = second_units["second"].to_numpy() // 3600
                per_hour = np.bincount(hours, weights=second_units["units"].to_numpy(float),
                                       minlength=24)
                peak = float(per_hour.max() / per_hour.sum()) if per_hour.sum() else np.nan
            upd = units / days
            rows.append((name, w.start, w.end, days, src, units, upd, ordinary,
                         upd / ordinary if ordinary > 0 else np.nan, share, peak))
    return pd.DataFrame(rows, columns=["event", "start", "end", "days", "source", "units",
                                       "units_per_day", "ordinary_per_day", "lift",
                                       "share_of_year", "peak_hour_share"])


# ------------------------------------------------------------------ post-mortem


def nearest_warehouse(lanes: pd.DataFrame) -> pd.DataFrame:
    """Each region's nearest warehouse by lane hours (ties: the first warehouse id)."""
    ln = lanes.sort_values(["region_id", "transit_hours", "warehouse_id"], kind="stable")
    return ln.drop_duplicates("region_id")[["region_id", "warehouse_id"]].reset_index(drop=True)


def stock_post_mortem(stock: pd.DataFrame, truth_day: pd.DataFrame, lanes: pd.DataFrame,
                      near: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per SKU and warehouse: units placed, the demand of the regions it is nearest to,
    units shipped from it, left over, and short (nearest demand beyond what was placed).

    ``stock`` is ``outcomes_stock``; ``truth_day`` the rehearsed day's sales; ``near``
    the nearest warehouse per region (default: by lane hours).
    """
    near = nearest_warehouse(lanes) if near is None else near
    return _sql(
        "WITH d AS (SELECT CAST(t.sku_id AS VARCHAR) AS sku_id, n.warehouse_id, "
        "sum(t.units) AS demand FROM t JOIN n ON CAST(t.region_id AS VARCHAR) = n.region_id "
        "GROUP BY ALL), "
        "s AS (SELECT CAST(sku_id AS VARCHAR) AS sku_id, CAST(warehouse_id AS VARCHAR) AS "
        "warehouse_id, placed, \"left\" FROM st) "
        "SELECT sku_id, warehouse_id, coalesce(s.placed, 0)::BIGINT AS placed, "
        "coalesce(d.demand, 0)::BIGINT AS demand_nearest, "
        "(coalesce(s.placed, 0) - coalesce(s.\"left\", 0))::BIGINT AS shipped, "
        "coalesce(s.\"left\", 0)::BIGINT AS \"left\", "
        "greatest(coalesce(d.demand, 0) - coalesce(s.placed, 0), 0)::BIGINT AS short "
        "FROM s FULL JOIN d USING (sku_id, warehouse_id) ORDER BY sku_id, warehouse_id",
        t=truth_day[["sku_id", "region_id", "units"]], n=near.astype(str), st=stock)


def forecast_error(forecast: pd.DataFrame, truth: pd.DataFrame, history: pd.DataFrame,
                   skus: pd.DataFrame) -> pd.DataFrame:
    """Forecast (mean) against actual units on the forecast's days, by category, region
    and SKU size (national units per day over the history's last 28 days, in
    :data:`SIZE_BANDS`): error = forecast - actual, WAPE = |errors| / actual summed per
    cell, bias = error / actual."""
    last = pd.Timestamp(history["date"].max())
    recent = history.loc[(pd.to_datetime(history["date"]) > last - pd.Timedelta(days=28))
                         .to_numpy()]
    per_day = recent.groupby("sku_id", observed=True)["units"].sum() / 28.0
    k = skus[["sku_id", "category"]].astype(str).copy()
    k["size"] = _band(k["sku_id"].map(per_day.rename(index=str)).fillna(0.0), SIZE_BANDS,
                      "units/day")
    cells = _window_cells(truth, forecast[["sku_id", "region_id", "date", "mean"]], skus)
    out = _by_dimension(
        "sum(x.counterfactual) AS forecast, sum(x.units) AS actual, "
        "sum(x.counterfactual - x.units) AS error, "
        "sum(abs(x.counterfactual - x.units)) AS abs_error",
        (("total", "'all'"), ("category", "k.category"), ("region", "x.region_id"),
         ("size", "k.size")), x=cells, k=k)
    actual = out["actual"].to_numpy(dtype=float)
    safe = np.where(actual > 0, actual, 1.0)
    out["wape"] = np.where(actual > 0, out["abs_error"] / safe, np.nan)
    out["bias"] = np.where(actual > 0, out["error"] / safe, np.nan)
    return out


def late_reasons(reasons: pd.DataFrame) -> pd.DataFrame:
    """Units not within 24 h by reason per region (and its nearest warehouse), summed over
    the order hours of ``outcomes_reason``."""
    return _sql(
        "SELECT any_value(warehouse_id) AS warehouse_id, region_id, sum(stock)::BIGINT AS stock,"
        " sum(backlog)::BIGINT AS backlog, sum(transit)::BIGINT AS transit, "
        "(sum(stock) + sum(backlog) + sum(transit))::BIGINT AS units FROM r GROUP BY region_id "
        "ORDER BY units DESC, region_id", r=reasons)


def share_gap(expected_24h: float | None, region_units: float, late: pd.DataFrame,
              expected_lost: dict[str, float | None] | None = None) -> pd.DataFrame:
    """The plan's expected share within 24 h beside the rehearsed one, and the gap
    between them as ``stock + backlog + transit - plan_expected_loss`` (each a share of
    the units ordered): the rehearsal's losses by reason less what the plan expected to
    lose. Where the plan noted its expected losses by reason (``expected_lost``: plan and
    rehearsal share one model of demand and network, so these are what a rehearsal of the
    plan's own scenarios loses), ``gap_stock``, ``gap_backlog`` and ``gap_transit`` split
    the gap by reason: the forecast's error, reason by reason."""
    units = max(float(region_units), 1.0)
    lost = {c: float(late[c].sum()) / units for c in ("stock", "backlog", "transit")}
    rehearsed = 1.0 - sum(lost.values())
    exp = float(expected_24h) if expected_24h is not None else np.nan
    rows = [
        ("plan_expected_24h", exp), ("rehearsed_24h", rehearsed), ("gap", exp - rehearsed),
        *((f"lost_{c}", v) for c, v in lost.items()),
        ("plan_expected_loss", 1.0 - exp),
    ]
    given = expected_lost or {}
    if all(isinstance(given.get(c), float | int) for c in lost):
        rows += [(f"plan_expected_lost_{c}", float(given[c] or 0.0)) for c in lost]
        rows += [(f"gap_{c}", v - float(given[c] or 0.0)) for c, v in lost.items()]
    return pd.DataFrame(rows, columns=["component", "share"])


# ------------------------------------------------------------------ for next year


def misses(totals: pd.DataFrame, truth: pd.DataFrame, window: Window) -> pd.DataFrame:
    """SKUs whose actual window total fell outside the forecast's q10-q90 band of that
    total (``forecast_total`` rows with a blank region), the largest miss first."""
    nat = totals[totals["region_id"].isna() | (totals["region_id"].astype(str) == "")]
    return _sql(
        "WITH a AS (SELECT CAST(sku_id AS VARCHAR) AS sku_id, sum(units)::DOUBLE AS actual "
        "FROM t WHERE CAST(date AS DATE) BETWEEN DATE '" + window.start.isoformat() + "' AND "
        "DATE '" + window.end.isoformat() + "' GROUP BY 1) "
        "SELECT CAST(f.sku_id AS VARCHAR) AS sku_id, coalesce(a.actual, 0) AS actual, "
        "f.q10::DOUBLE AS q10, f.q90::DOUBLE AS q90, "
        "CASE WHEN coalesce(a.actual, 0) > f.q90 THEN 'above q90' ELSE 'below q10' END AS side, "
        "CASE WHEN coalesce(a.actual, 0) > f.q90 THEN coalesce(a.actual, 0) - f.q90 "
        "ELSE f.q10 - coalesce(a.actual, 0) END AS miss "
        "FROM f LEFT JOIN a ON CAST(f.sku_id AS VARCHAR) = a.sku_id "
        "WHERE coalesce(a.actual, 0) > f.q90 OR coalesce(a.actual, 0) < f.q10 "
        "ORDER BY miss DESC, sku_id", t=truth, f=nat)


def moves(stock_pm: pd.DataFrame, warehouses: pd.DataFrame) -> pd.DataFrame:
    """Per warehouse: units short and left over over its SKUs, and ``net = short - left``:
    positive, next year's plan should move stock there; negative, away."""
    return _sql(
        "SELECT s.warehouse_id, any_value(CAST(w.region_id AS VARCHAR)) AS region_id, "
        "sum(s.short)::BIGINT AS short, sum(s.\"left\")::BIGINT AS \"left\", "
        "(sum(s.short) - sum(s.\"left\"))::BIGINT AS net FROM s "
        "LEFT JOIN w ON s.warehouse_id = CAST(w.warehouse_id AS VARCHAR) GROUP BY 1 "
        "ORDER BY net DESC, s.warehouse_id", s=stock_pm, w=warehouses)


def frames_of(tables: Mapping[str, pd.DataFrame], names: Sequence[str]) -> list[str]:
    """Names in ``names`` missing from ``tables``."""
    return [n for n in names if n not in tables]
