"""The planner's numba kernels against slow, obvious Python oracles."""

from __future__ import annotations

import numpy as np
import pytest

from forestock.plan import _kernels as K
from forestock.plan._baselines import split_units


def _instance(seed: int) -> dict[str, np.ndarray]:
    """Random SKUs with sparse cells, scenario demand and lane tables."""
    rng = np.random.default_rng(seed)
    n_s, n_r, n_w, n_k, L = 5, 6, 4, 3, 3
    counts = rng.integers(0, n_r + 1, n_s)
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    regions = np.concatenate([np.sort(rng.choice(n_r, c, replace=False)) for c in counts])
    D = rng.gamma(1.0, 3.0, (int(indptr[-1]), n_k)) * (rng.random((int(indptr[-1]), n_k)) < 0.8)
    hours = rng.uniform(4, 60, (n_r, n_w))
    route = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
    r_hours = np.take_along_axis(hours, route, axis=1)
    return {
        "indptr": indptr, "regions": regions.astype(np.int32), "D": D,
        "margin": rng.uniform(5, 50, n_s), "national": rng.integers(0, 25, n_s),
        "unit": rng.uniform(0, 3, (n_s, n_w)), "reg_w": np.ascontiguousarray(route[:, :L]),
        "reg_tier": np.where(r_hours[:, :L] <= 20, 1.0, 0.5),
        "reg_cost": rng.uniform(0, 4, (n_r, L)), "fb_cost": rng.uniform(1, 5, n_w),
        "route": route,
    }


def _slow_value(x: np.ndarray, s: int, a: dict[str, np.ndarray], mu: np.ndarray,
                fb_tier: float) -> float:
    """One SKU's value by the rule spelled out: best lanes first, then the fallback pool."""
    c0, c1 = a["indptr"][s], a["indptr"][s + 1]
    m = a["margin"][s]
    lanes = []
    for i in range(c1 - c0):
        r = a["regions"][c0 + i]
        for j in range(a["reg_w"].shape[1]):
            w = int(a["reg_w"][r, j])
            v = m * a["reg_tier"][r, j] - a["reg_cost"][r, j] - mu[w]
            if v > 0:
                lanes.append((-v, len(lanes), i, w))
    lanes.sort()
    fbv = m * fb_tier - a["fb_cost"] - mu
    total = 0.0
    n_k = a["D"].shape[1]
    for k in range(n_k):
        st = x.astype(float).copy()
        rem = a["D"][c0:c1, k].copy()
        for negv, _, i, w in lanes:
            q = min(rem[i], st[w])
            total += q * -negv
            rem[i] -= q
            st[w] -= q
        unmet = rem.sum()
        for w in np.argsort(-fbv, kind="stable"):
            if fbv[w] <= 0:
                break
            q = min(unmet, st[w])
            total += q * fbv[w]
            unmet -= q
    return total / n_k - float(x @ a["unit"][s])


@pytest.mark.parametrize("seed", range(6))
def test_greedy_values_match_the_slow_rule(seed: int) -> None:
    """greedy_skus places every SKU's national units and reports the value the slow rule gives,
    under per-SKU prices of shipping from each warehouse."""
    a = _instance(seed)
    n_s, n_w = a["unit"].shape
    mu = np.random.default_rng(seed).uniform(-1.0, 1.0, (n_s, n_w))
    x = np.zeros((n_s, n_w), dtype=np.int64)
    vals = np.zeros(n_s)
    ship = np.zeros(n_w)
    K.greedy_skus(a["indptr"], a["regions"], a["D"], a["margin"], a["national"], a["unit"],
                  a["reg_w"], a["reg_tier"], a["reg_cost"], 0.3, a["fb_cost"], mu, 4,
                  np.full(n_w, 5, dtype=np.int64), np.zeros(n_w, dtype=np.int64), False, False,
                  x, ship, vals)
    assert (x.sum(axis=1) == a["national"]).all()
    for s in range(n_s):
        assert vals[s] == pytest.approx(_slow_value(x[s], s, a, mu[s], 0.3), rel=1e-9,
                                        abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_within_room_never_overfills(seed: int) -> None:
    """With room, no warehouse takes more than its room, and the room left is what remains."""
    a = _instance(seed)
    n_s, n_w = a["unit"].shape
    room0 = np.random.default_rng(seed).integers(0, 15, n_w)
    room = room0.copy()
    x = np.zeros((n_s, n_w), dtype=np.int64)
    K.greedy_skus(a["indptr"], a["regions"], a["D"], a["margin"], a["national"], a["unit"],
                  a["reg_w"], a["reg_tier"], a["reg_cost"], 0.3, a["fb_cost"],
                  np.zeros((n_s, n_w)), 4,
                  np.full(n_w, 3, dtype=np.int64), room, True, True, x, np.zeros(n_w),
                  np.zeros(n_s))
    assert (x.sum(axis=0) <= room0).all()
    assert (room == room0 - x.sum(axis=0)).all()
    assert (x.sum(axis=1) <= a["national"]).all()


def test_nearest_with_room_matches_oracle() -> None:
    """nearest_with_room fills nearest warehouses first, exactly as a plain loop does."""
    rng = np.random.default_rng(3)
    route = np.array([[0, 1, 2], [1, 2, 0], [2, -1, -1]], dtype=np.int32)
    cells = 30
    cs = rng.integers(0, 4, cells).astype(np.int32)
    cr = rng.integers(0, 3, cells).astype(np.int32)
    cu = rng.integers(0, 20, cells).astype(np.int64)
    room = np.array([60, 40, 80], dtype=np.int64)
    alloc = np.zeros((4, 3), dtype=np.int64)
    short = K.nearest_with_room(cs, cr, cu, route, room.copy(), alloc)
    want = np.zeros((4, 3), dtype=np.int64)
    left_room = room.copy()
    want_short = []
    for s, r, u in zip(cs, cr, cu, strict=True):
        left = int(u)
        for w in route[r]:
            if w < 0 or left == 0:
                break
            take = min(left, int(left_room[w]))
            want[s, w] += take
            left_room[w] -= take
            left -= take
        want_short.append(left)
    assert (alloc == want).all() and list(short) == want_short


def test_uniforms_do_not_depend_on_chunking() -> None:
    """Counter-based draws for keys 0..9 are the same drawn at once or in two chunks."""
    seed = np.uint64(42)
    whole = K.uniforms(seed, np.arange(10, dtype=np.int64), 4, 2)
    parts = np.vstack([K.uniforms(seed, np.arange(0, 3, dtype=np.int64), 4, 2),
                       K.uniforms(seed, np.arange(3, 10, dtype=np.int64), 4, 2)])
    assert (whole == parts).all() and ((whole > 0) & (whole < 1)).all()


def test_split_units_adds_up_by_largest_remainders() -> None:
    """split_units gives each group exactly its total, each row within one unit of its share."""
    rng = np.random.default_rng(0)
    group = np.sort(rng.integers(0, 7, 80))
    weights = rng.random(80) * (rng.random(80) < 0.8)
    totals = rng.integers(0, 50, 7)
    got = split_units(totals, weights, group, 7)
    assert (np.bincount(group, weights=got, minlength=7) == totals).all()
    wsum = np.bincount(group, weights=weights, minlength=7)
    share = np.where(wsum[group] > 0, totals[group] * weights / np.where(wsum > 0, wsum, 1)[group],
                     totals[group] / np.bincount(group, minlength=7)[group])
    assert (np.abs(got - share) < 1.0 + 1e-9).all()


def _joint(a: dict[str, np.ndarray], room: np.ndarray,
           start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    n_s, n_w = a["unit"].shape
    x = np.zeros((n_s, n_w), dtype=np.int64) if start is None else start.copy()
    vals = np.zeros(n_s)
    K.greedy_joint(a["indptr"], a["regions"], a["D"], a["margin"], a["national"], a["unit"],
                   a["reg_w"], a["reg_tier"], a["reg_cost"], 0.3, a["fb_cost"],
                   np.zeros((n_s, n_w)), 4, np.full(n_w, 5, dtype=np.int64), room, False, x,
                   np.zeros(n_w), vals)
    return x, vals


@pytest.mark.parametrize("seed", range(6))
def test_joint_greedy_with_ample_room_is_the_per_sku_greedy(seed: int) -> None:
    """With room to spare, placing all SKUs together gives each SKU its own greedy plan."""
    a = _instance(seed)
    n_s, n_w = a["unit"].shape
    x = np.zeros((n_s, n_w), dtype=np.int64)
    vals = np.zeros(n_s)
    K.greedy_skus(a["indptr"], a["regions"], a["D"], a["margin"], a["national"], a["unit"],
                  a["reg_w"], a["reg_tier"], a["reg_cost"], 0.3, a["fb_cost"],
                  np.zeros((n_s, n_w)), 4,
                  np.full(n_w, 5, dtype=np.int64), np.zeros(n_w, dtype=np.int64), False, False,
                  x, np.zeros(n_w), vals)
    xj, vj = _joint(a, np.full(n_w, 10_000, dtype=np.int64))
    assert (xj == x).all()
    np.testing.assert_allclose(vj, vals, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_joint_greedy_fills_within_room_and_values_by_the_slow_rule(seed: int) -> None:
    """Within tight room every SKU still gets its national units, no warehouse overfills, and
    each SKU's value is the slow rule's; a given start is kept and completed."""
    a = _instance(seed)
    n_s, n_w = a["unit"].shape
    need = int(a["national"].sum())
    room0 = np.full(n_w, need // n_w + 2, dtype=np.int64)
    start = np.zeros((n_s, n_w), dtype=np.int64)
    start[:, 0] = np.minimum(a["national"] // 3, 1)
    room = room0 - start.sum(axis=0)
    x, vals = _joint(a, room, start)
    assert (x >= start).all()
    assert (x.sum(axis=1) == a["national"]).all()
    assert (x.sum(axis=0) <= room0).all()
    assert (room == room0 - x.sum(axis=0)).all()
    for s in range(n_s):
        assert vals[s] == pytest.approx(_slow_value(x[s], s, a, np.zeros(n_w), 0.3), rel=1e-9,
                                        abs=1e-9)


def test_joint_greedy_gives_scarce_room_to_the_chunk_worth_most() -> None:
    """Two SKUs want one forward warehouse with room for one: the dearer SKU gets it."""
    a = _instance(0)
    a.update(indptr=np.array([0, 1, 2], dtype=np.int64), regions=np.array([0, 0], np.int32),
             D=np.full((2, 3), 1.0), margin=np.array([10.0, 40.0]),
             national=np.array([1, 1]), unit=np.zeros((2, 4)),
             reg_w=np.tile(np.array([0, 1, 2], dtype=np.int32), (6, 1)),
             reg_tier=np.tile([1.0, 0.5, 0.5], (6, 1)), reg_cost=np.zeros((6, 3)))
    x, _ = _joint(a, np.array([1, 5, 5, 5], dtype=np.int64))
    assert x[1, 0] == 1 and x[0, 0] == 0 and x[0, 1] == 1
