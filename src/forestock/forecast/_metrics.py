"""Accuracy: WRMSSE (the M5 definition), MASE, WAPE, bias, pinball loss and coverage.

Scores compare a forecast table with the actual units over the same SKU x
region x date cells, at several levels of aggregation: the whole market,
each region, each SKU nationally, and each SKU in each region (plus each
category when SKU attributes are known). As in M5, every series is scaled
by its in-sample one-step naive error and weighted by its revenue over the
last weeks of the training history; WRMSSE is the mean over levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestock.forecast._panel import LEVELS, Panel
from forestock.uncertainty import quantile_columns, quantile_level


def _group(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def _levels(p: Panel, skus: pd.DataFrame | None) -> dict[str, tuple[np.ndarray, int]]:
    n = p.n_series
    levels = {
        "total": (np.zeros(n, dtype=np.int64), 1),
        "region": (p.series_region.astype(np.int64), len(p.region_ids)),
        "sku": (p.series_sku.astype(np.int64), len(p.sku_ids)),
        "sku_region": (np.arange(n), n),
    }
    if skus is not None:
        cat = skus.set_index("sku_id").reindex(p.sku_ids)["category"]
        codes, uniq = pd.factorize(cat)
        levels["category"] = (codes[p.series_sku].astype(np.int64), len(uniq))
    return levels


def score(
    p: Panel,
    periods: np.ndarray,
    forecast: pd.DataFrame,
    actual: np.ndarray,
    skus: pd.DataFrame | None = None,
) -> dict[str, object]:
    """Score ``forecast`` (a forecast table) against ``actual[series, window period]``.

    ``p`` is the training panel (its history gives scales and weights).
    Returns a flat dict: ``wrmsse``, per level ``rmsse_<level>``,
    ``mase_<level>`` and ``wape_<level>``, ``bias``, ``pinball`` (scaled by
    mean actual units), ``coverage`` (share of cells with q10 <= actual <=
    q90, among cells where either is non-zero), ``above_q90`` and
    ``below_q10`` (shares of the cells of series that sold in the history
    whose actual is above q90, or below q10: an actual 0 with q10 0 is not
    below).
    """
    n, m = p.n_series, periods.size
    key = pd.MultiIndex.from_arrays([p.sku_ids[p.series_sku], p.region_ids[p.series_region]])
    fc = forecast.assign(date=pd.to_datetime(forecast["date"]))
    dates = p.dates[periods]
    cols = ["mean", *quantile_columns(fc.columns)]
    wide = {}
    for c in cols:
        piv = fc.pivot_table(index=["sku_id", "region_id"], columns="date", values=c,
                             aggfunc="sum", observed=True)
        wide[c] = piv.reindex(index=key, columns=dates).fillna(0.0).to_numpy()
    F = wide["mean"]
    act = actual.astype(float)
    Y = np.nan_to_num(p.Y[:, : p.n_hist], nan=0.0).astype(float)
    if skus is not None:
        price = skus.set_index("sku_id").reindex(p.sku_ids)["price"].to_numpy(dtype=float)
        price = np.nan_to_num(price, nan=1.0)
    else:
        price = np.ones(len(p.sku_ids))
    recent = LEVELS[p.freq][1] * (1 if p.freq != "M" else 4)
    revenue = Y[:, -recent:].sum(axis=1) * price[p.series_sku]
    out: dict[str, object] = {}
    rmsse_levels: list[float] = []
    for name, (codes, k) in _levels(p, skus).items():
        h = _group(codes, Y, k)
        a = _group(codes, act, k)
        f = _group(codes, F, k)
        w = np.zeros(k)
        np.add.at(w, codes, revenue)
        started = np.cumsum(h > 0, axis=1) > 0
        d = np.diff(h, axis=1)
        valid = started[:, 1:]
        denom_sq = np.where(valid.sum(axis=1) > 0,
                            (d**2 * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1), 0.0)
        denom_abs = np.where(valid.sum(axis=1) > 0,
                             (np.abs(d) * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1),
                             0.0)
        ok = (denom_sq > 0) & (w > 0)
        if not ok.any():
            continue
        wn = w[ok] / w[ok].sum()
        mse = ((a - f) ** 2).mean(axis=1)
        mae = np.abs(a - f).mean(axis=1)
        rmsse = np.sqrt(mse[ok] / denom_sq[ok])
        mase = mae[ok] / np.maximum(denom_abs[ok], 1e-12)
        out[f"rmsse_{name}"] = float((wn * rmsse).sum())
        out[f"mase_{name}"] = float((wn * mase).sum())
        total = a.sum()
        out[f"wape_{name}"] = float(np.abs(a - f).sum() / total) if total > 0 else float("nan")
        rmsse_levels.append(float((wn * rmsse).sum()))
    out["wrmsse"] = float(np.mean(rmsse_levels)) if rmsse_levels else float("nan")
    total = act.sum()
    out["bias"] = float((F.sum() - total) / total) if total > 0 else float("nan")
    qs = quantile_columns(wide)
    if qs:
        losses = []
        for c in qs:
            tau = quantile_level(c)
            e = act - wide[c]
            losses.append(np.maximum(tau * e, (tau - 1) * e).mean())
        out["pinball"] = float(np.mean(losses) / max(act.mean(), 1e-12))
    if "q10" in wide and "q90" in wide:
        lo, hi = wide["q10"], wide["q90"]
        live = (act > 0) | (hi > 0)
        inside = (act >= lo - 1e-9) & (act <= hi + 1e-9)
        out["coverage"] = float(inside[live].mean()) if live.any() else float("nan")
        sold = Y.sum(axis=1) > 0
        if sold.any():
            out["above_q90"] = float((act[sold] > hi[sold] + 1e-9).mean())
            out["below_q10"] = float((act[sold] < lo[sold] - 1e-9).mean())
        else:
            out["above_q90"] = out["below_q10"] = float("nan")
    out["cells"] = int(n * m)
    return out
