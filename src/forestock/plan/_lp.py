"""The exact method: the two-stage stochastic LP over the scenarios, solved by HiGHS.

First stage: units ``x[s, w]`` of each SKU in each warehouse (adding up to the
national quantity, within storage). Second stage, per scenario ``k``: units
``y[lane, k]`` sent along each of a region's nearest lanes, and units
``g[s, w, k]`` sent from any warehouse to demand no lane served (the fallback,
valued as a late delivery). Maximise the expected value of the deliveries
minus inbound and holding costs; outbound per warehouse is limited in
expectation. The model is built from arrays (COO to CSC) and passed whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from forestock.plan._model import SolverArrays
from forestock.plan._params import PlanParams
from forestock.plan._problem import PlanProblem
from forestock.plan._status import LpStatus

__all__ = ["LpOutcome", "lp_size", "round_plan", "solve_lp"]

log = logging.getLogger("forestock.plan")


@dataclass(frozen=True)
class LpOutcome:
    """The LP's answer: continuous stock, optimum, status (and HiGHS's own name for it),
    seconds, size."""

    stock: np.ndarray  # float64 [sku, warehouse]
    objective: float
    status: LpStatus
    seconds: float
    columns: int
    rows: int
    highs_status: str = ""


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (HiGHS prints a banner when the first instance is made)."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 1
    saved = os.dup(fd)
    try:
        with Path(os.devnull).open("w") as null:
            os.dup2(null.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
    finally:
        os.close(saved)


def _lanes(problem: PlanProblem, model: SolverArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell's lanes with a positive value: (cell, warehouse, value)."""
    p, m = problem, model
    reg = p.cell_region
    sku = p.cell_sku
    w = m.reg_w[reg]  # [cell, lane]
    val = (m.margin[sku][:, None] * m.reg_tier[reg] - m.reg_cost[reg]
           + m.bonus[sku[:, None], np.maximum(w, 0)])
    ok = (w >= 0) & (val > 0)
    cell = np.broadcast_to(np.arange(reg.size)[:, None], w.shape)
    return cell[ok], w[ok].astype(np.int64), val[ok]


def lp_size(problem: PlanProblem, params: PlanParams, model: SolverArrays) -> tuple[int, int]:
    """Columns and rows of the LP."""
    n_s, n_w = len(problem.skus), len(problem.warehouses)
    n_k, n_c = params.scenarios, int(problem.indptr[-1])
    n_l = _lanes(problem, model)[0].size
    cols = n_s * n_w + n_l * n_k + n_s * n_w * n_k
    rows = n_s + n_w + n_s * n_w * n_k + n_c * n_k + n_s * n_k + n_w
    return cols, rows


def solve_lp(problem: PlanProblem, params: PlanParams, model: SolverArrays, seed: int,
             fixed: np.ndarray | None = None) -> LpOutcome:
    """Solve the LP (with ``fixed`` stock, only its second stage: the plan's exact value)."""
    import highspy

    p, q, m = problem, params, model
    t0 = time.perf_counter()
    n_s, n_w, n_k = len(p.skus), len(p.warehouses), q.scenarios
    n_c = int(p.indptr[-1])
    D = p.uncertainty.scenarios(0, n_s, n_k, seed)  # [cell, k]
    l_cell, l_w, l_val = _lanes(p, m)
    n_l = l_cell.size
    l_sku = p.cell_sku[l_cell].astype(np.int64)
    fbv = m.margin[:, None] * m.fb_tier - m.fb_cost[None, :] + m.bonus  # [s, w]
    # columns
    nx, ny, ng = n_s * n_w, n_l * n_k, n_s * n_w * n_k
    y0, g0 = nx, nx + ny
    n_col = nx + ny + ng
    cost = np.concatenate([
        -m.base_cost.ravel(),
        np.repeat(l_val, n_k) / n_k,
        np.repeat(fbv.ravel(), n_k) / n_k,
    ])
    lower = np.zeros(n_col)
    upper = np.full(n_col, np.inf)
    upper[g0:] = np.where(np.repeat(fbv.ravel(), n_k) > 0, np.inf, 0.0)
    if fixed is not None:
        lower[:nx] = upper[:nx] = np.asarray(fixed, dtype=float).ravel()
    # rows: national, storage, supply (s, w, k), demand (c, k), fallback (s, k), outbound (w)
    r_nat, r_sto = 0, n_s
    r_sup = r_sto + n_w
    r_dem = r_sup + n_s * n_w * n_k
    r_fb = r_dem + n_c * n_k
    r_out = r_fb + n_s * n_k
    n_row = r_out + n_w
    k = np.arange(n_k)
    x_s = np.repeat(np.arange(n_s), n_w)
    x_w = np.tile(np.arange(n_w), n_s)
    x_col = np.arange(nx)
    y_col = y0 + np.arange(ny)
    y_k = np.tile(k, n_l)
    y_l = np.repeat(np.arange(n_l), n_k)
    g_col = g0 + np.arange(ng)
    g_sw = np.repeat(np.arange(nx), n_k)
    g_k = np.tile(k, nx)
    parts = [
        (r_nat + x_s, x_col, np.ones(nx)),
        (r_sto + x_w, x_col, np.ones(nx)),
        # supply: y at w + g at w - x <= 0
        ((r_sup + (l_sku * n_w + l_w)[y_l] * n_k + y_k), y_col, np.ones(ny)),
        (r_sup + g_sw * n_k + g_k, g_col, np.ones(ng)),
        (r_sup + np.repeat(np.arange(nx), n_k) * n_k + g_k, np.repeat(x_col, n_k),
         -np.ones(ng)),
        # demand of a cell: its lanes
        (r_dem + l_cell[y_l] * n_k + y_k, y_col, np.ones(ny)),
        # fallback: lanes and pool of a SKU within the SKU's demand
        (r_fb + l_sku[y_l] * n_k + y_k, y_col, np.ones(ny)),
        (r_fb + x_s[g_sw] * n_k + g_k, g_col, np.ones(ng)),
        # outbound: expected shipments of a warehouse
        (r_out + l_w[y_l], y_col, np.full(ny, 1.0 / n_k)),
        (r_out + x_w[g_sw], g_col, np.full(ng, 1.0 / n_k)),
    ]
    rows = np.concatenate([a for a, _, _ in parts])
    cols = np.concatenate([b for _, b, _ in parts])
    vals = np.concatenate([c for _, _, c in parts])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(n_row, n_col))
    row_lo = np.full(n_row, -np.inf)
    row_hi = np.zeros(n_row)
    nat = p.national.astype(float)
    row_hi[r_nat:r_sto] = nat
    if not q.allow_shortfall:
        row_lo[r_nat:r_sto] = nat
    row_hi[r_sto:r_sup] = p.storage.astype(float)
    row_hi[r_dem:r_fb] = D.ravel()
    sku_of_cell = p.cell_sku
    dem_s = np.zeros((n_s, n_k))
    np.add.at(dem_s, sku_of_cell, D)
    row_hi[r_fb:r_out] = dem_s.ravel()
    row_hi[r_out:] = np.where(np.isfinite(m.ship_cap), m.ship_cap, np.inf)
    if fixed is not None:  # the plan is given: national and storage rows are its own business
        row_lo[:r_sup] = -np.inf
        row_hi[:r_sup] = np.inf

    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = n_row
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(q.time_limit))
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", int(seed) % 2_147_483_647)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    name = {
        highspy.HighsModelStatus.kOptimal: LpStatus.OPTIMAL,
        highspy.HighsModelStatus.kTimeLimit: LpStatus.TIME_LIMIT,
        highspy.HighsModelStatus.kInfeasible: LpStatus.INFEASIBLE,
        highspy.HighsModelStatus.kUnbounded: LpStatus.UNBOUNDED,
        highspy.HighsModelStatus.kUnboundedOrInfeasible: LpStatus.INFEASIBLE,
    }.get(status, LpStatus.OTHER)
    sol = np.asarray(h.getSolution().col_value)
    objective = float(h.getInfo().objective_function_value)
    x = sol[:nx].reshape(n_s, n_w) if sol.size == n_col else np.zeros((n_s, n_w))
    seconds = time.perf_counter() - t0
    log.info("plan LP %d x %d: %s, objective %.1f, %.1f s", n_row, n_col, name, objective,
             seconds)
    return LpOutcome(stock=np.maximum(x, 0.0), objective=objective, status=name,
                     seconds=seconds, columns=n_col, rows=n_row,
                     highs_status=str(status).rsplit(".", 1)[-1])


def round_plan(x: np.ndarray, national: np.ndarray, storage: np.ndarray,
               allow_short: bool) -> np.ndarray:
    """Integer stock from the LP's: floors, then each SKU's missing units to its largest
    fractions in warehouses with room (any warehouse with room if those are full)."""
    base = np.floor(x + 1e-7).astype(np.int64)
    target = np.minimum(national, np.round(x.sum(axis=1)).astype(np.int64)) if allow_short \
        else national
    room = storage - base.sum(axis=0)
    over = base.sum(axis=1) - target
    for s in np.flatnonzero(over > 0):  # numerical slack: take the smallest fractions off
        for w in np.argsort(x[s] - base[s]):
            take = min(int(over[s]), int(base[s, w]))
            base[s, w] -= take
            room[w] += take
            over[s] -= take
            if over[s] == 0:
                break
    frac = x - base
    need = target - base.sum(axis=1)
    for s in np.flatnonzero(need > 0):
        for w in np.argsort(-frac[s], kind="stable"):
            if need[s] == 0:
                break
            take = min(int(need[s]), int(max(room[w], 0)), 1 if frac[s, w] > 1e-9 else 0)
            base[s, w] += take
            room[w] -= take
            need[s] -= take
        for w in np.argsort(-room, kind="stable"):  # what is left: wherever there is room
            if need[s] == 0:
                break
            take = min(int(need[s]), int(max(room[w], 0)))
            base[s, w] += take
            room[w] -= take
            need[s] -= take
    return base
