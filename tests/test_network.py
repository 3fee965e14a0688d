"""The network's expected service against order-by-order oracles (forestock.network)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forestock import network


@given(st.floats(0.5, 80.0), st.floats(0.0, 0.5), st.floats(0.0, 6.0))
def test_on_time_is_the_chance_of_the_noisy_lane(hours: float, noise: float,
                                                 last_mile: float) -> None:
    """on_time equals the empirical share of noisy lane draws meeting the promise."""
    u = np.linspace(-noise, noise, 200_001)
    want = float(np.mean(hours * (1.0 + u) + last_mile <= 24.0))
    got = float(network.on_time(np.array([hours]), 24.0, noise, last_mile)[0])
    assert abs(got - want) <= 1e-4
    assert float(network.on_time(np.array([np.inf]), 24.0, noise, last_mile)[0]) == 0.0


def _instance(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_s, n_r, n_w = 4, 5, 3
    counts = rng.integers(1, n_r + 1, n_s)
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    regions = np.concatenate([np.sort(rng.choice(n_r, c, replace=False)) for c in counts])
    demand = rng.gamma(1.5, 20.0, int(indptr[-1])) * (rng.random(int(indptr[-1])) < 0.85)
    transit = rng.uniform(3, 40, (n_w, n_r))
    stock = rng.integers(0, 60, (n_s, n_w)).astype(float)
    return {"indptr": indptr, "regions": regions.astype(np.int32), "demand": demand,
            "transit": transit, "stock": stock,
            "route": network.nearest(transit, np.ones(n_w))}


def _orders_route(a: dict[str, np.ndarray], pieces: int) -> tuple[np.ndarray, float]:
    """The rehearsal's rule order by order: every cell's demand cut into ``pieces`` orders
    interleaved in time, each served by the first warehouse on its route with stock."""
    W, R = a["transit"].shape
    flow = np.zeros((W, R))
    unserved = 0.0
    for s in range(a["indptr"].size - 1):
        c0, c1 = a["indptr"][s], a["indptr"][s + 1]
        st_ = a["stock"][s].copy()
        for _ in range(pieces):
            for c in range(c0, c1):
                need = a["demand"][c] / pieces
                r = a["regions"][c]
                for w in a["route"][r]:
                    if w < 0 or need <= 0:
                        break
                    q = min(need, st_[w])
                    flow[w, r] += q
                    st_[w] -= q
                    need -= q
                unserved += need
    return flow, unserved


@pytest.mark.parametrize("seed", range(5))
def test_fluid_route_is_the_limit_of_interleaved_orders(seed: int) -> None:
    """Routing the fluid equals routing many small interleaved orders (within their grain),
    and every unit is served once or counted unserved."""
    a = _instance(seed)
    flow = np.zeros_like(a["transit"])
    unserved = network.fluid_route(a["indptr"], a["regions"], a["demand"], a["stock"],
                                   a["route"], flow)
    want, want_unserved = _orders_route(a, 400)
    assert flow.sum() + unserved == pytest.approx(a["demand"].sum(), rel=1e-9)
    np.testing.assert_allclose(flow, want, atol=a["demand"].max() / 400 * 6 + 1e-9)
    assert unserved == pytest.approx(want_unserved, abs=1e-6)
    served_by_sku = np.minimum(
        np.add.reduceat(a["demand"], a["indptr"][:-1]), a["stock"].sum(axis=1))
    assert flow.sum() == pytest.approx(served_by_sku.sum(), rel=1e-9)


def _orders_service(parcels: float, cap: int, transit: float, promise: float, noise: float,
                    last_mile: float, cdf: np.ndarray) -> float:
    """Share within ``promise`` of ``parcels`` orders placed at the quantiles of ``cdf``,
    queued first come first served behind ``cap`` parcels an hour (an order placed in hour
    ``h`` behind ``ahead`` leaves at the end of hour ``h + ahead // cap``)."""
    n = int(parcels)
    t = np.searchsorted(cdf, (np.arange(n) + 0.5) / n) + 0.5  # seconds
    hour = (t // 3600).astype(int)
    shipped = np.zeros(hour.max() + 2)
    done = 0
    ok = 0.0
    arrived_before = np.searchsorted(hour, np.arange(hour.max() + 2))  # orders before hour h
    for h in range(hour.max() + 1):
        shipped[h] = done
        done = min(done + cap, arrived_before[h + 1])
    for i in range(n):
        h = hour[i]
        wait = (i - shipped[h]) // cap
        left = h + wait + 1 - t[i] / 3600
        ok += float(network.on_time(np.array([transit]), promise - left, noise,
                                    last_mile)[0])
    return ok / n


@pytest.mark.parametrize(("parcels", "cap"), [(20_000, 5_000), (20_000, 900), (6_000, 200)])
def test_fluid_queue_matches_orders_queued_one_by_one(parcels: int, cap: int) -> None:
    """The fluid queue's chance of meeting each promise equals that of orders queued one by
    one behind the same hourly capacity, from a light day to a backlog of a day."""
    cdf = network.intraday_cdf()
    transit = np.array([[9.0, 17.0, 30.0]])
    flow = np.array([[parcels * 1.0, 0.0, 0.0]])
    for r, hrs in enumerate(transit[0]):
        f = np.roll(flow, r, axis=1)
        got = network.serve_flow(f, 0.0, np.array([[0], [0], [0]]), transit, np.array([cap]),
                                 units_per_parcel=1.0, cdf=cdf).within / parcels
        for k, promise in enumerate((24.0, 48.0)):
            want = _orders_service(parcels, cap, hrs, promise, 0.15, 2.0, cdf)
            assert got[k] == pytest.approx(want, abs=0.01), (hrs, promise)


def test_routes_skip_warehouses_without_capacity_or_lane() -> None:
    """nearest: lanes by hours, without a warehouse that cannot ship or has no lane."""
    transit = np.array([[5.0, 9.0], [3.0, np.nan], [1.0, 2.0]])
    routes = network.nearest(transit, np.array([10, 10, 0]))
    assert routes.tolist() == [[1, 0, -1], [0, -1, -1]]
    assert network.nearest_only(transit, np.array([10, 10, 0])).tolist() == [[1], [0]]
