"""One model of the network, for plan and rehearsal alike.

How an order is served, as the rehearsal (``forestock.simulate``) carries it
out order by order and as the plan (``forestock.plan``) values a placement in
expectation:

- **routing**: an order goes to the first warehouse on its region's list that
  holds its units: every warehouse with a lane and outbound capacity, nearest
  first (:func:`nearest`); orders of all regions arrive together through the day;
- **the warehouse queue**: a warehouse ships at most its ``outbound_per_hour``
  parcels an hour, first come first served; an order placed in hour ``h``
  behind ``ahead`` parcels leaves at the end of hour ``h + ahead // capacity``;
- **transit**: the lane's hours vary uniformly by ``transit_noise`` either way;
  the last mile adds ``last_mile_hours``;
- **the promise**: a unit counts as delivered within 24 h (48 h) when it
  reaches the door within that many hours of the order.

The rehearsal applies these rules to every order; :func:`fluid_route` and
:func:`serve_flow` apply them to a fluid of demand: each region draws on its
nearest warehouse with stock at the pace of the day's orders, a warehouse's
parcels queue as a fluid behind its hourly capacity. So the plan's expected share
within 24 h and a rehearsal of the same demand differ only by the grain of
single orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from forestock.params import Params, within

__all__ = ["DAY_SECONDS", "NetworkParams", "ServiceOutcome", "fluid_route", "intraday_cdf",
           "lane_on_time", "nearest", "nearest_only", "on_time", "own_hour_on_time",
           "serve_flow"]

DAY_SECONDS = 86_400

#: Relative order rate at the middle of each hour of an ordinary sale-day hour (before the surge).
_HOURLY = np.array(
    [1.6, 0.9, 0.45, 0.25, 0.18, 0.18, 0.3, 0.55, 0.85, 1.0, 1.1, 1.1,
     1.0, 1.0, 1.05, 1.05, 1.0, 1.0, 1.05, 1.15, 1.35, 1.55, 1.6, 1.45]
)

#: Seconds per bin of the fluid queue (the rehearsal's queue is exact to the order).
_BIN = 60


@dataclass(frozen=True)
class NetworkParams(Params):
    """The network's rules, one set for plan and rehearsal (the ``[network]`` table of a
    configuration file serves both stages).

    Parameters
    ----------
    promise_hours
        The delivery tiers: hours from order to door (within 24 h, within 48 h).
    transit_noise
        A lane's hours vary uniformly by up to this share either way.
    last_mile_hours
        Hours from the destination's depot to the buyer's door.
    size_probs
        Probability of an order of 1, 2, 3, ... units.
    surge
        Order rate in the first second after midnight, in multiples of the day's
        average rate, on top of the diurnal curve (2019: about 36).
    surge_seconds
        Decay time of the midnight surge.
    """

    section = "network"
    checks = (
        within("[0, 1)", "transit_noise"),
        within("[0, inf)", "last_mile_hours", "surge"),
        within("(0, inf)", "surge_seconds"),
    )

    promise_hours: tuple[float, float] = (24.0, 48.0)
    transit_noise: float = 0.15
    last_mile_hours: float = 2.0
    size_probs: tuple[float, ...] = (0.72, 0.18, 0.07, 0.03)
    surge: float = 32.0
    surge_seconds: float = 420.0

    def _validate(self) -> None:
        h = self.promise_hours
        if not (len(h) == 2 and 0.0 < h[0] <= h[1]):
            raise ValueError(f"promise_hours={h!r} is invalid: must be two increasing "
                             "positive hours")
        p = np.asarray(self.size_probs, dtype=float)
        if p.size == 0 or (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"size_probs={self.size_probs!r} is invalid: must be "
                             "non-negative and add up to 1")

    @property
    def units_per_order(self) -> float:
        """Mean units of an order (of ``size_probs``)."""
        p = np.asarray(self.size_probs, dtype=float)
        return float((np.arange(1, p.size + 1) * p).sum())

    def day_cdf(self) -> np.ndarray:
        """The day's cumulative share of orders by the second (:func:`intraday_cdf`)."""
        return intraday_cdf(self.surge, self.surge_seconds)


def intraday_cdf(surge: float = 32.0, surge_seconds: float = 420.0) -> np.ndarray:
    """Return the cumulative share of the day's orders at the end of each second.

    Parameters
    ----------
    surge
        Order rate in the first second after midnight, as a multiple of the
        day's average rate on top of the diurnal curve (2019: about 36x).
    surge_seconds
        Decay time of the surge (e-folding, seconds).

    Returns
    -------
    numpy.ndarray
        ``float64`` array of length 86,400, increasing, ending at exactly 1.
    """
    if surge < 0 or surge_seconds <= 0:
        raise ValueError(f"surge must be >= 0 and surge_seconds > 0, got {surge}, {surge_seconds}")
    t = np.arange(DAY_SECONDS, dtype=np.float64) + 0.5
    centres = np.arange(24) * 3600.0 + 1800.0
    # periodic interpolation of the hourly curve, so 23:59 joins 00:00 smoothly
    base = np.interp(t, np.r_[centres[-1] - DAY_SECONDS, centres, centres[0] + DAY_SECONDS],
                     np.r_[_HOURLY[-1], _HOURLY, _HOURLY[0]])
    base /= base.mean()
    rate = base + surge * np.exp(-t / surge_seconds)
    cdf = np.cumsum(rate)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def nearest(transit: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Per region, every warehouse with a lane and outbound capacity, nearest first (ties by
    code), padded with -1: ``int32 [region, rank]`` from lane hours ``transit[warehouse,
    region]`` (NaN: no lane) and hourly capacities."""
    usable = ~np.isnan(transit) & (capacity[:, None] > 0)
    hours = np.where(usable, transit, np.inf).T  # [region, warehouse]
    order = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
    ranked_usable = np.take_along_axis(usable.T, order, axis=1)
    return np.where(ranked_usable, order, -1).astype(np.int32)


def nearest_only(transit: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Only the nearest warehouse: no spill-over to the next one (a baseline)."""
    return nearest(transit, capacity)[:, :1].copy()


def on_time(hours: np.ndarray, promise: float, noise: float, last_mile: float) -> np.ndarray:
    """Chance that a lane of ``hours`` (varying uniformly by ``noise`` either way) plus the
    last mile delivers within ``promise`` hours of leaving the warehouse; 0 for a missing
    (infinite) lane."""
    h = np.asarray(hours, dtype=float)
    slack = promise - last_mile
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if noise == 0.0:
            p = (h <= slack).astype(float)
        else:  # h * (1 + u) <= slack  <=>  u <= slack / h - 1, u ~ U(-noise, noise)
            p = np.clip((slack / h - 1.0 + noise) / (2.0 * noise), 0.0, 1.0)
    return np.where(np.isfinite(h) & (h > 0), p, np.where(h <= 0, float(slack >= 0), 0.0))


@njit(cache=True, nogil=True)
def fluid_route(indptr: np.ndarray, cell_region: np.ndarray, demand: np.ndarray,
                stock: np.ndarray, route: np.ndarray, flow: np.ndarray) -> float:
    """Route demand as a fluid, as the rehearsal routes orders: all of a SKU's regions draw
    at once, at the pace of their demand, each on the first warehouse of its route
    (``route[r]``, -1 past the last) with stock left; when a warehouse runs out, its
    regions move on to their next. Adds units per lane to ``flow[w, r]``; returns the
    units no warehouse could serve.

    ``demand[c]`` is each cell's units, ``stock[s, w]`` the units placed.
    """
    n_s = indptr.size - 1
    W = stock.shape[1]
    L = route.shape[1]
    st = np.empty(W)
    rate = np.empty(W)
    unserved = 0.0
    for s in range(n_s):
        c0, c1 = indptr[s], indptr[s + 1]
        n_c = c1 - c0
        if n_c == 0:
            continue
        for w in range(W):
            st[w] = stock[s, w]
        at = np.zeros(n_c, dtype=np.int64)  # rank of each cell's current warehouse
        cur = np.empty(n_c, dtype=np.int64)  # the warehouse itself, -1: none left
        t = 0.0
        while t < 1.0:
            for w in range(W):
                rate[w] = 0.0
            for i in range(n_c):
                r = cell_region[c0 + i]
                j = at[i]
                while j < L and route[r, j] >= 0 and st[route[r, j]] <= 0.0:
                    j += 1
                at[i] = j
                cur[i] = route[r, j] if j < L else -1
                if cur[i] >= 0:
                    rate[cur[i]] += max(demand[c0 + i], 0.0)
            dt = 1.0 - t
            for w in range(W):
                if rate[w] > 0.0 and st[w] / rate[w] < dt:
                    dt = st[w] / rate[w]
            for i in range(n_c):
                d = max(demand[c0 + i], 0.0) * dt
                if cur[i] >= 0:
                    flow[cur[i], cell_region[c0 + i]] += d
                else:
                    unserved += d
            for w in range(W):
                if rate[w] > 0.0:
                    st[w] = st[w] - rate[w] * dt
                    if st[w] < 1e-9 * rate[w]:
                        st[w] = 0.0
            t += dt
    return unserved


@njit(cache=True, nogil=True)
def lane_service(parcels: np.ndarray, share: np.ndarray, capacity: np.ndarray,
                 transit: np.ndarray, noise: float, last_mile: float, promise: np.ndarray,
                 out: np.ndarray) -> None:
    """Chance that a unit leaving warehouse ``w`` for region ``r`` arrives within each
    promise, ``out[w, r, k]``, when ``parcels[w]`` parcels arrive over the day in the shares
    ``share[b]`` of bins of ``3600 / share.size * 24`` seconds and queue behind
    ``capacity[w]`` parcels an hour (a fluid: an order placed in hour ``h`` behind ``ahead``
    parcels leaves at the end of hour ``h + ahead // capacity``)."""
    W, R = transit.shape
    n_b = share.size
    per_hour = n_b // 24
    bin_h = 24.0 / n_b
    n_k = promise.size
    delay = np.empty(4 * n_b)
    weight = np.empty(4 * n_b)
    for w in range(W):
        cap = float(capacity[w])
        total = parcels[w]
        for r in range(R):
            for k in range(n_k):
                out[w, r, k] = 0.0
        if total <= 0.0 or cap <= 0.0:
            continue
        n = 0
        q = 0.0  # parcels arrived
        shipped = 0.0  # parcels shipped before the current hour
        for b in range(n_b):
            h = b // per_hour
            if b % per_hour == 0 and h > 0:
                shipped = min(shipped + cap, q)
            a = total * share[b]
            if a <= 0.0:
                continue
            t_mid = (b + 0.5) * bin_h
            lo = q - shipped
            hi = lo + a
            j = int(lo // cap)
            while lo < hi:
                top = min(hi, (j + 1) * cap)
                if n == delay.size:
                    delay = np.concatenate((delay, np.empty(delay.size)))
                    weight = np.concatenate((weight, np.empty(weight.size)))
                delay[n] = (h + j + 1) - t_mid
                weight[n] = (top - lo) / total
                n += 1
                lo = top
                j += 1
            q += a
        # the chance within a promise is piecewise linear in the delay: 1 up to a, 0 from
        # b, linear between; so over the delays sorted, with prefix sums of the weights and
        # of weight x delay, each lane's expectation is two binary searches
        order = np.argsort(delay[:n], kind="mergesort")
        d = delay[:n][order]
        cw = np.zeros(n + 1)
        cwd = np.zeros(n + 1)
        for i in range(n):
            cw[i + 1] = cw[i] + weight[order[i]]
            cwd[i + 1] = cwd[i] + weight[order[i]] * d[i]
        for r in range(R):
            hrs = transit[w, r]
            if not np.isfinite(hrs):
                continue
            for k in range(n_k):
                room = promise[k] - last_mile
                if hrs <= 0.0 or noise == 0.0:  # a step: in time iff delay <= room - hrs
                    out[w, r, k] = cw[np.searchsorted(d, room - max(hrs, 0.0), "right")]
                    continue
                a = room - hrs * (1.0 + noise)
                b = room - hrs * (1.0 - noise)
                ia = np.searchsorted(d, a, "right")
                ib = max(np.searchsorted(d, b, "left"), ia)
                mid = (b * (cw[ib] - cw[ia]) - (cwd[ib] - cwd[ia])) / (b - a)
                out[w, r, k] = cw[ia] + mid


def lane_on_time(parcels: np.ndarray, transit: np.ndarray, capacity: np.ndarray, *,
                 promise: tuple[float, ...] = (24.0, 48.0), noise: float = 0.15,
                 last_mile: float = 2.0, cdf: np.ndarray | None = None) -> np.ndarray:
    """Chance ``[w, r, promise]`` that a unit sent from warehouse ``w`` to region ``r``
    reaches the door within each promise of its order, when ``parcels[w]`` orders arrive
    through the day as ``cdf`` (default :func:`intraday_cdf`) and queue behind
    ``capacity[w]`` parcels an hour (``inf``: no queue beyond the order's own hour)."""
    ends = np.asarray(intraday_cdf() if cdf is None else cdf)[_BIN - 1::_BIN]
    share = np.diff(np.r_[0.0, ends])
    W, R = transit.shape
    p = np.zeros((W, R, len(promise)))
    lane_service(np.asarray(parcels, dtype=np.float64), share,
                 np.asarray(capacity, dtype=np.float64),
                 np.where(np.isnan(transit), np.inf, transit), noise, last_mile,
                 np.asarray(promise, dtype=np.float64), p)
    return p


@dataclass(frozen=True)
class ServiceOutcome:
    """Expected units of a demand scenario: demanded, served, within each promise, and not
    within the first promise by the rehearsal's reasons."""

    demand: float
    served: float
    within: np.ndarray  # float64 [promise]
    late: dict[str, float]  # stock, backlog, transit (see lane_service)
    flow: np.ndarray  # float64 [warehouse, region]: units per lane


def own_hour_on_time(transit: np.ndarray, promise: float = 24.0, noise: float = 0.15,
                     last_mile: float = 2.0, cdf: np.ndarray | None = None) -> np.ndarray:
    """Chance ``[w, r]`` that a unit leaving at the end of its order's hour (no queue) arrives
    within ``promise``: it does not depend on the load, so it is worked out once for any
    number of scenarios (see :func:`serve_flow`)."""
    W = transit.shape[0]
    return lane_on_time(np.ones(W), transit, np.full(W, np.inf), promise=(promise,),
                        noise=noise, last_mile=last_mile, cdf=cdf)[:, :, 0]


def serve_flow(flow: np.ndarray, unserved: float, route: np.ndarray, transit: np.ndarray,
               capacity: np.ndarray, *, units_per_parcel: float,
               promise: tuple[float, ...] = (24.0, 48.0), noise: float = 0.15,
               last_mile: float = 2.0, cdf: np.ndarray | None = None,
               own_hour: np.ndarray | None = None) -> ServiceOutcome:
    """How units routed ``flow[w, r]`` over the day (and ``unserved`` units) fare: after the
    warehouses' queues (orders of ``units_per_parcel`` units on average) and noisy lanes
    (see :func:`lane_on_time`), units within each promise, and units not within the
    first one by the rehearsal's reasons: ``stock`` (not shipped from the region's nearest
    warehouse on ``route``: served farther, or unserved), ``backlog`` (from the nearest,
    and in time had it left at the end of its order's hour), ``transit`` (the lane and
    last mile too long even so). ``own_hour`` is :func:`own_hour_on_time` of the same
    rules, if already worked out."""
    parcels = flow.sum(axis=1) / units_per_parcel
    p = lane_on_time(parcels, transit, capacity, promise=promise, noise=noise,
                     last_mile=last_mile, cdf=cdf)
    p0 = (own_hour if own_hour is not None
          else own_hour_on_time(transit, promise[0], noise, last_mile, cdf))
    p24 = p[:, :, 0]
    W, R = transit.shape
    near = np.zeros((W, R), dtype=bool)
    first = route[:, 0]
    near[first[first >= 0], np.flatnonzero(first >= 0)] = True
    late = {
        "stock": float((flow * (1.0 - p24))[~near].sum()) + float(unserved),
        "backlog": float((flow * (p0 - p24))[near].sum()),
        "transit": float((flow * (1.0 - p0))[near].sum()),
    }
    served = float(flow.sum())
    return ServiceOutcome(demand=served + float(unserved), served=served,
                          within=np.asarray(np.einsum("wr,wrk->k", flow, p)), late=late,
                          flow=flow)
