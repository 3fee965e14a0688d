"""The rules planners use today, run beside the solvers on the same national quantities.

- ``central``: every unit in the most central warehouse (least demand-weighted
  lane hours), spilling to the next most central when it is full;
- ``population``: each SKU's units split over the regions by population, each
  region's share in its nearest warehouse with room;
- ``nearest``: each SKU's units split over the regions by forecast demand, each
  region's share in its nearest warehouse with room.

Shares are whole units by largest remainders; cells are placed largest first.
"""

from __future__ import annotations

import numpy as np

from forestock.plan import _kernels as K
from forestock.plan._model import SolverArrays
from forestock.plan._problem import PlanProblem

__all__ = ["baseline", "split_units"]


def split_units(total: np.ndarray, weights: np.ndarray, group: np.ndarray,
                n_groups: int) -> np.ndarray:
    """Split ``total[g]`` over the rows of each group by ``weights`` (largest remainders).

    Rows of a group whose weights are all zero share equally.
    """
    wsum = np.bincount(group, weights=weights, minlength=n_groups)
    size = np.bincount(group, minlength=n_groups)
    w = np.where(wsum[group] > 0, weights, 1.0)
    wsum = np.where(wsum > 0, wsum, size)
    exact = total[group] * w / np.maximum(wsum[group], 1e-300)
    base = np.floor(exact + 1e-9).astype(np.int64)
    left = total - np.bincount(group, weights=base, minlength=n_groups).astype(np.int64)
    frac = exact - base
    order = np.lexsort((np.arange(group.size), -frac, group))
    g_sorted = group[order]
    start = np.searchsorted(g_sorted, np.arange(n_groups))
    rank = np.arange(group.size) - start[g_sorted]
    extra = np.zeros(group.size, dtype=np.int64)
    extra[order] = (rank < left[g_sorted]).astype(np.int64)
    return base + extra


def _place(problem: PlanProblem, model: SolverArrays, cell_sku: np.ndarray, cell_region: np.ndarray,
           units: np.ndarray) -> np.ndarray:
    n_s, n_w = len(problem.skus), len(problem.warehouses)
    keep = units > 0
    s, r, u = cell_sku[keep], cell_region[keep], units[keep]
    order = np.lexsort((r, s, -u))
    alloc = np.zeros((n_s, n_w), dtype=np.int64)
    K.nearest_with_room(s[order].astype(np.int32), r[order].astype(np.int32), u[order],
                        model.route, problem.storage.copy(), alloc)
    return alloc


def baseline(problem: PlanProblem, model: SolverArrays, method: str) -> np.ndarray:
    """Stock ``[sku, warehouse]`` of a baseline rule (see the module's notes)."""
    p = problem
    n_s, n_r = len(p.skus), len(p.regions)
    if method == "nearest":
        sku = p.cell_sku
        units = split_units(p.national, p.cell_mean, sku, n_s)
        return _place(p, model, sku, p.cell_region, units)
    if method == "population":
        sku = np.repeat(np.arange(n_s), n_r)
        region = np.tile(np.arange(n_r), n_s)
        units = split_units(p.national, p.population[region], sku, n_s)
        return _place(p, model, sku, region, units)
    if method == "central":
        by_region = np.bincount(p.cell_region, weights=p.cell_mean, minlength=n_r)
        hours = np.where(np.isnan(p.transit), 1e6, p.transit)
        score = hours @ by_region
        order = np.argsort(score, kind="stable")
        route = np.tile(order.astype(np.int32), (n_r, 1))
        sku = np.arange(n_s)
        units = p.national.copy()
        keep = units > 0
        idx = np.lexsort((sku[keep], -units[keep]))
        alloc = np.zeros((n_s, len(p.warehouses)), dtype=np.int64)
        K.nearest_with_room(sku[keep][idx].astype(np.int32), np.zeros(idx.size, np.int32),
                            units[keep][idx], route, p.storage.copy(), alloc)
        return alloc
    raise ValueError(f"unknown baseline {method!r}")
