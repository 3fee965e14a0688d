"""numba kernels of the planner: per-SKU greedy, plan evaluation (draws: ``forestock._draws``).

Every kernel here has a slow oracle in ``tests/plan/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forestock._draws import uniforms as uniforms  # the plan's draws, re-exported


@njit(cache=True, inline="always")
def _recourse(x: np.ndarray, D: np.ndarray, c0: int, k: int, lane_c: np.ndarray,
              lane_w: np.ndarray, lane_v: np.ndarray, nl: int, fb_order: np.ndarray,
              fbv: np.ndarray, st: np.ndarray, rem: np.ndarray, ship: np.ndarray,
              track: bool, wt: float) -> float:
    """Value of serving scenario ``k`` from stock ``x``: best lanes first, then the fallback."""
    for w in range(x.size):
        st[w] = x[w]
    n_c = rem.size
    unmet = 0.0
    for i in range(n_c):
        rem[i] = D[c0 + i, k]
        unmet += rem[i]
    value = 0.0
    for i in range(nl):
        if unmet <= 0.0:
            break
        c = lane_c[i]
        w = lane_w[i]
        q = min(rem[c], st[w])
        if q > 0.0:
            value += q * lane_v[i]
            rem[c] -= q
            st[w] -= q
            unmet -= q
            if track:
                ship[w] += q * wt
    for j in range(fb_order.size):
        if unmet <= 0.0:
            break
        w = fb_order[j]
        if fbv[w] <= 0.0:
            break
        q = min(unmet, st[w])
        if q > 0.0:
            value += q * fbv[w]
            unmet -= q
            if track:
                ship[w] += q * wt
    return value


@njit(cache=True, inline="always")
def _expected(x: np.ndarray, D: np.ndarray, c0: int, lane_c: np.ndarray, lane_w: np.ndarray,
              lane_v: np.ndarray, nl: int, fb_order: np.ndarray, fbv: np.ndarray,
              st: np.ndarray, rem: np.ndarray, ship: np.ndarray, track: bool) -> float:
    K = D.shape[1]
    total = 0.0
    for k in range(K):
        total += _recourse(x, D, c0, k, lane_c, lane_w, lane_v, nl, fb_order, fbv, st, rem,
                           ship, track, 1.0 / K)
    return total / K


@njit(cache=True, inline="always")
def _lanes(c0: int, n_c: int, m: float, cell_region: np.ndarray, reg_w: np.ndarray,
           reg_tier: np.ndarray, reg_cost: np.ndarray,
           mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lanes (cell, warehouse, value) of one SKU with a positive value, best first."""
    L = reg_w.shape[1]
    lc = np.empty(n_c * L, dtype=np.int64)
    lw = np.empty(n_c * L, dtype=np.int64)
    lv = np.empty(n_c * L)
    nl = 0
    for i in range(n_c):
        r = cell_region[c0 + i]
        for j in range(L):
            w = reg_w[r, j]
            if w < 0:
                break
            v = m * reg_tier[r, j] - reg_cost[r, j] - mu[w]
            if v > 0.0:
                lc[nl] = i
                lw[nl] = w
                lv[nl] = v
                nl += 1
    order = np.argsort(-lv[:nl], kind="mergesort")
    return lc[:nl][order], lw[:nl][order], lv[:nl][order]


@njit(cache=True, inline="always")
def _setup(c0: int, n_c: int, m: float, unit: np.ndarray, cell_region: np.ndarray,
           reg_w: np.ndarray, reg_tier: np.ndarray, reg_cost: np.ndarray, fb_tier: float,
           fb_cost: np.ndarray, mu: np.ndarray, fbv: np.ndarray,
           ub: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One SKU's lanes (best first) and fallback order; fills ``fbv`` (fallback values) and
    ``ub`` (each warehouse's best value per unit net of ``unit`` costs, a gain bound)."""
    lane_c, lane_w, lane_v = _lanes(c0, n_c, m, cell_region, reg_w, reg_tier, reg_cost, mu)
    for w in range(mu.size):
        fbv[w] = m * fb_tier - fb_cost[w] - mu[w]
        ub[w] = max(fbv[w], 0.0)
    for i in range(lane_c.size - 1, -1, -1):
        ub[lane_w[i]] = max(ub[lane_w[i]], lane_v[i])
    for w in range(mu.size):
        ub[w] -= unit[w]
    return lane_c, lane_w, lane_v, np.argsort(-fbv, kind="mergesort")


@njit(cache=True, inline="always")
def _best_move(x: np.ndarray, ub: np.ndarray, d: int, step_cap: np.ndarray, room: np.ndarray,
               use_room: bool, value: float, unit: np.ndarray, cand_x: np.ndarray,
               D: np.ndarray, c0: int, lane_c: np.ndarray, lane_w: np.ndarray,
               lane_v: np.ndarray, nl: int, fb_order: np.ndarray, fbv: np.ndarray,
               st: np.ndarray, rem: np.ndarray, ship: np.ndarray) -> tuple[int, float, int]:
    """The warehouse where the next chunk of at most ``d`` units adds most value per unit net
    of ``unit`` costs, its gain per unit and the chunk: (-1, 0, 0) when no warehouse has room.

    ``ub[w]`` bounds the gain at ``w`` from above (the last gain found there, or the best
    lane's value); only the top candidate is evaluated, until it beats every other bound.
    ``value`` is the value of ``x`` before unit costs.
    """
    W = x.size
    while True:
        w_top = -1
        for w in range(W):
            if use_room and room[w] <= 0:
                continue
            if w_top < 0 or ub[w] > ub[w_top]:
                w_top = w
        if w_top < 0:
            return -1, 0.0, 0
        dd = min(d, step_cap[w_top])
        if use_room and room[w_top] < dd:
            dd = room[w_top]
        for w in range(W):
            cand_x[w] = x[w]
        cand_x[w_top] += dd
        v_new = _expected(cand_x, D, c0, lane_c, lane_w, lane_v, nl, fb_order, fbv, st, rem,
                          ship, False)
        g = (v_new - value) / dd - unit[w_top]
        ub[w_top] = g
        second = -np.inf
        for w in range(W):
            if w == w_top or (use_room and room[w] <= 0):
                continue
            second = max(second, ub[w])
        if g >= second - 1e-12:
            return w_top, g, dd


@njit(cache=True, nogil=True)
def greedy_skus(
    indptr: np.ndarray,
    cell_region: np.ndarray,
    D: np.ndarray,
    margin: np.ndarray,
    national: np.ndarray,
    unit_cost: np.ndarray,
    reg_w: np.ndarray,
    reg_tier: np.ndarray,
    reg_cost: np.ndarray,
    fb_tier: float,
    fb_cost: np.ndarray,
    mu: np.ndarray,
    steps: int,
    step_cap: np.ndarray,
    room: np.ndarray,
    use_room: bool,
    allow_short: bool,
    x_out: np.ndarray,
    ship_out: np.ndarray,
    value_out: np.ndarray,
) -> None:
    """Place each SKU's national units, chunk by chunk, where the next chunk adds most value.

    SKU ``s`` owns the scenario rows ``indptr[s]:indptr[s+1]`` of ``D`` (cells x
    scenarios) and their regions. Its value of stock ``x`` is the mean over
    scenarios of the units served, each valued at its lane (``margin * reg_tier
    - reg_cost - mu[s, w]``, region ``r``'s lanes in ``reg_w[r]``, best lanes
    served first) plus a fallback pool at ``margin * fb_tier - fb_cost[w] -
    mu[s, w]`` for demand no lane could serve (``mu[s, w]``: the price of a unit
    shipped from ``w``, less what serving a unit of the SKU there saves beyond
    its margin: its shortage and surplus costs); each unit placed in ``w`` costs
    ``unit_cost[s, w]`` (inbound, holding and the storage price). Gains are
    evaluated lazily (an old gain bounds a new one); a chunk placed in ``w`` is at
    most ``step_cap[w]`` units. With ``use_room`` a
    warehouse takes at most ``room[w]`` units, decreased in place; with
    ``allow_short`` a SKU stops when the best gain is negative or no room is
    left. Writes ``x_out[s]``, adds expected shipments to ``ship_out[w]`` and the
    value (net of unit costs) to ``value_out[s]``.
    """
    n_s = indptr.size - 1
    W = mu.shape[1]
    st = np.empty(W)
    fbv = np.empty(W)
    ub = np.empty(W)
    cand_x = np.empty(W, dtype=np.int64)
    x = np.empty(W, dtype=np.int64)
    for s in range(n_s):
        c0 = indptr[s]
        n_c = indptr[s + 1] - c0
        N = national[s]
        for w in range(W):
            x[w] = 0
        lane_c, lane_w, lane_v, fb_order = _setup(c0, n_c, margin[s], unit_cost[s],
                                                  cell_region, reg_w, reg_tier, reg_cost,
                                                  fb_tier, fb_cost, mu[s], fbv, ub)
        nl = lane_c.size
        rem = np.empty(n_c)
        value = 0.0
        total = 0
        chunk = max(1, (N + steps - 1) // steps)
        unit = unit_cost[s]
        while total < N:
            best_w, best_g, best_dd = _best_move(x, ub, min(chunk, N - total), step_cap, room,
                                                 use_room, value, unit, cand_x, D, c0, lane_c,
                                                 lane_w, lane_v, nl, fb_order, fbv, st, rem,
                                                 ship_out)
            if best_w < 0:
                break
            if allow_short and best_g < 0.0:
                break
            x[best_w] += best_dd
            total += best_dd
            value += (best_g + unit[best_w]) * best_dd
            if use_room:
                room[best_w] -= best_dd
        net = _expected(x, D, c0, lane_c, lane_w, lane_v, nl, fb_order, fbv, st, rem,
                        ship_out, True)
        for w in range(W):
            x_out[s, w] = x[w]
            net -= x[w] * unit_cost[s, w]
        value_out[s] = net


@njit(cache=True, inline="always")
def _heap_less(k: np.ndarray, ids: np.ndarray, i: int, j: int) -> bool:
    """Entry ``i`` comes before ``j``: a larger key, ties to the smaller id."""
    return k[i] > k[j] or (k[i] == k[j] and ids[i] < ids[j])


@njit(cache=True)
def _heap_push(k: np.ndarray, ids: np.ndarray, n: int, key: float, item: int) -> int:
    k[n] = key
    ids[n] = item
    i = n
    while i > 0:
        up = (i - 1) // 2
        if not _heap_less(k, ids, i, up):
            break
        k[i], k[up] = k[up], k[i]
        ids[i], ids[up] = ids[up], ids[i]
        i = up
    return n + 1


@njit(cache=True)
def _heap_pop(k: np.ndarray, ids: np.ndarray, n: int) -> tuple[float, int, int]:
    key, item = k[0], ids[0]
    n -= 1
    k[0], ids[0] = k[n], ids[n]
    i = 0
    while True:
        a, b, top = 2 * i + 1, 2 * i + 2, i
        if a < n and _heap_less(k, ids, a, top):
            top = a
        if b < n and _heap_less(k, ids, b, top):
            top = b
        if top == i:
            break
        k[i], k[top] = k[top], k[i]
        ids[i], ids[top] = ids[top], ids[i]
        i = top
    return key, item, n


@njit(cache=True, nogil=True)
def greedy_joint(
    indptr: np.ndarray,
    cell_region: np.ndarray,
    D: np.ndarray,
    margin: np.ndarray,
    national: np.ndarray,
    unit_cost: np.ndarray,
    reg_w: np.ndarray,
    reg_tier: np.ndarray,
    reg_cost: np.ndarray,
    fb_tier: float,
    fb_cost: np.ndarray,
    mu: np.ndarray,
    steps: int,
    step_cap: np.ndarray,
    room: np.ndarray,
    allow_short: bool,
    x_io: np.ndarray,
    ship_out: np.ndarray,
    value_out: np.ndarray,
) -> None:
    """:func:`greedy_skus` within room for all SKUs at once: the next chunk placed is always
    the one, over every SKU, that adds most value per unit, so that scarce room goes to the
    chunks worth most, not to the SKUs that come first.

    Starts from the stock in ``x_io`` (completed in place to the national
    quantities); other arguments as :func:`greedy_skus` with ``use_room``. Ties
    go to the smaller SKU code.
    """
    n_s = indptr.size - 1
    W = mu.shape[1]
    st = np.empty(W)
    cand_x = np.empty(W, dtype=np.int64)
    fbv = np.empty((n_s, W))
    ub = np.empty((n_s, W))
    fbo = np.empty((n_s, W), dtype=np.int64)
    width = reg_w.shape[1]
    loff = np.zeros(n_s + 1, dtype=np.int64)
    cap = (indptr[-1] - indptr[0]) * width
    lc = np.empty(cap, dtype=np.int64)
    lw = np.empty(cap, dtype=np.int64)
    lv = np.empty(cap)
    value = np.zeros(n_s)
    total = np.zeros(n_s, dtype=np.int64)
    chunk = np.empty(n_s, dtype=np.int64)
    mw = np.full(n_s, -1, dtype=np.int64)
    md = np.zeros(n_s, dtype=np.int64)
    hk = np.empty(n_s)
    hs = np.empty(n_s, dtype=np.int64)
    nh = 0
    for s in range(n_s):
        c0 = indptr[s]
        n_c = indptr[s + 1] - c0
        a, b, c, order = _setup(c0, n_c, margin[s], unit_cost[s], cell_region, reg_w,
                                reg_tier, reg_cost, fb_tier, fb_cost, mu[s], fbv[s], ub[s])
        nl = a.size
        loff[s + 1] = loff[s] + nl
        lc[loff[s]:loff[s + 1]] = a
        lw[loff[s]:loff[s + 1]] = b
        lv[loff[s]:loff[s + 1]] = c
        fbo[s] = order
        N = national[s]
        chunk[s] = max(1, (N + steps - 1) // steps)
        total[s] = x_io[s].sum()
        value[s] = _expected(x_io[s], D, c0, a, b, c, nl, order, fbv[s], st, np.empty(n_c),
                             ship_out, False)
        if total[s] < N:  # first pop: find the SKU's first move
            nh = _heap_push(hk, hs, nh, np.inf, s)
    while nh > 0:
        g, s, nh = _heap_pop(hk, hs, nh)
        w, dd = mw[s], md[s]
        N = national[s]
        if w >= 0 and room[w] >= dd:
            if allow_short and g < 0.0:
                continue
            x_io[s, w] += dd
            total[s] += dd
            value[s] += (g + unit_cost[s, w]) * dd
            room[w] -= dd
            if total[s] >= N:
                continue
        # the SKU's next move (or its move again: others took the room since)
        c0 = indptr[s]
        a, b, c = lc[loff[s]:loff[s + 1]], lw[loff[s]:loff[s + 1]], lv[loff[s]:loff[s + 1]]
        w, g, dd = _best_move(x_io[s], ub[s], min(chunk[s], N - total[s]), step_cap, room,
                              True, value[s], unit_cost[s], cand_x, D, c0, a, b, c, a.size,
                              fbo[s], fbv[s], st, np.empty(indptr[s + 1] - c0), ship_out)
        mw[s], md[s] = w, dd
        if w >= 0:
            nh = _heap_push(hk, hs, nh, g, s)
    for s in range(n_s):
        c0 = indptr[s]
        n_c = indptr[s + 1] - c0
        a, b, c = lc[loff[s]:loff[s + 1]], lw[loff[s]:loff[s + 1]], lv[loff[s]:loff[s + 1]]
        rem = np.empty(n_c)
        net = _expected(x_io[s], D, c0, a, b, c, a.size, fbo[s], fbv[s], st, rem, ship_out,
                        True)
        for w in range(W):
            net -= x_io[s, w] * unit_cost[s, w]
        value_out[s] = net


@njit(cache=True, nogil=True)
def plan_value(
    indptr: np.ndarray,
    cell_region: np.ndarray,
    D: np.ndarray,
    margin: np.ndarray,
    x: np.ndarray,
    unit_cost: np.ndarray,
    reg_w: np.ndarray,
    reg_tier: np.ndarray,
    reg_cost: np.ndarray,
    fb_tier: float,
    fb_cost: np.ndarray,
    mu: np.ndarray,
    ship_out: np.ndarray,
    value_out: np.ndarray,
) -> None:
    """The value of stock ``x[s, w]`` as :func:`greedy_skus` counts it (same arguments)."""
    n_s = indptr.size - 1
    W = mu.shape[1]
    st = np.empty(W)
    fbv = np.empty(W)
    for s in range(n_s):
        c0 = indptr[s]
        n_c = indptr[s + 1] - c0
        m = margin[s]
        lane_c, lane_w, lane_v = _lanes(c0, n_c, m, cell_region, reg_w, reg_tier, reg_cost,
                                        mu[s])
        for w in range(W):
            fbv[w] = m * fb_tier - fb_cost[w] - mu[s, w]
        fb_order = np.argsort(-fbv, kind="mergesort")
        rem = np.empty(n_c)
        xs = x[s].astype(np.int64)
        net = _expected(xs, D, c0, lane_c, lane_w, lane_v, lane_c.size, fb_order, fbv, st, rem,
                        ship_out, True)
        for w in range(W):
            net -= xs[w] * unit_cost[s, w]
        value_out[s] = net


@njit(cache=True, nogil=True)
def nearest_with_room(
    cell_sku: np.ndarray,
    cell_region: np.ndarray,
    cell_units: np.ndarray,
    route: np.ndarray,
    room: np.ndarray,
    alloc: np.ndarray,
) -> np.ndarray:
    """Place each cell's units, in the order given, in the nearest warehouses with room.

    ``room`` is decreased and ``alloc[sku, warehouse]`` increased in place;
    ``route[r, j]`` is region ``r``'s ``j``-th nearest warehouse (-1 past the
    last). Returns the units of each cell that found no room.
    """
    short = np.zeros(cell_units.size, dtype=np.int64)
    for c in range(cell_units.size):
        left = cell_units[c]
        r = cell_region[c]
        s = cell_sku[c]
        for j in range(route.shape[1]):
            if left == 0:
                break
            w = route[r, j]
            if w < 0:
                break
            take = min(left, room[w])
            if take > 0:
                room[w] -= take
                alloc[s, w] += take
                left -= take
        short[c] = left
    return short
