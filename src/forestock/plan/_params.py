"""The planner's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from forestock.network import NetworkParams
from forestock.params import Params, one_of, within

__all__ = ["METHODS", "PlanParams"]

#: Planning methods: the two solvers, then the three baselines.
METHODS = ("fast", "exact", "central", "population", "nearest")


def _check(ok: bool, name: str, value: object, need: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: {need}")


@dataclass(frozen=True)
class PlanParams(Params):
    """Settings of the planner.

    Parameters
    ----------
    method
        ``fast`` (SKU decomposition with warehouse prices), ``exact`` (the
        two-stage stochastic LP by HiGHS), or a baseline: ``central`` (all
        stock in the most central warehouse), ``population`` (stock
        proportional to regional population) or ``nearest`` (forecast-
        proportional stock in each region's nearest warehouse).
    scenarios
        Demand scenarios drawn from the forecast's quantiles.
    lanes_per_region
        Warehouses (nearest by lane hours) that may serve a region directly;
        demand they cannot serve falls back to any warehouse with stock left.
    margin_rate
        Margin per unit as a share of its price.
    network
        The network's rules, the rehearsal's (:class:`forestock.network.NetworkParams`:
        promise tiers, transit noise, last mile, orders' sizes and the day's
        shape). A unit sent down a lane of ``h`` hours meets a tier with
        probability ``P(h * (1 + U) + last_mile_hours <= promise)``, so of two
        lanes in the same tier the shorter one is worth more; the plan's
        expected shares follow every rule, the warehouses' queues included.
    tier_values
        Share of the margin a unit earns when delivered within 24 h, within
        48 h, and later.
    promise_cny
        Value (CNY) of keeping the next-day promise on one unit, whatever its
        price, added to a delivery within 24 h: what a late parcel costs the
        network beyond the margin (compensation coupons, cancellations, repeat
        business), the same for a 30-yuan snack as for a phone. The default,
        1,000, is above the margin of all but the dearest goods, so the plan
        puts the share of units delivered within 24 h first (the event's
        measure, and all a third-party network is paid for) and margin second.
        With 0 the plan serves margin only and puts the dearest SKUs forward
        first. On the embedded world (4 seeds, rehearsed on the truth) the
        share within 24 h rose with the promise's value and levelled off from
        about 300 CNY: 88.9-95.4 % at 30, 90.3-95.7 % at 1,000.
    holding_rate
        Holding cost of a unit over the event, as a share of its price.
    inbound_cny_per_km
        Inbound cost per unit and road km from the factory (or bonded port).
    outbound_hours
        A warehouse may ship (in expectation) at most ``outbound_per_hour *
        outbound_hours`` orders (of ``network.units_per_order`` units) for the
        event; 0 hours: no limit.
    iterations
        Price updates of the fast method.
    steps
        Chunks in which the fast method places each SKU's units.
    chunk_skus
        SKUs whose scenarios are held in memory at once.
    time_limit
        Seconds HiGHS may take (exact method).
    cutoff_days
        Stock must be in its warehouse this many days before the event.
    safety_days
        Buffer added to every lead time on the notices.
    road_km_per_day, sea_km_per_day, customs_days
        Lead-time model: trucks, ships, and bonded-port clearance.
    wave_days
        A multi-day event (a window of several days): days between replenishment waves
        during it, at most; a wave comes sooner when the next days' quantities would
        fill more than ``wave_fill`` of the storage. 0: no waves, everything placed up
        front (the window total's quantities). A one-day event has no waves.
    wave_fill
        Share of the network's storage the quantities of the days between two waves
        may take (the rest holds what is left over from the days before).
    transfer_hours
        Hours of handling a transfer from a hub to a warehouse it replenishes takes on
        top of the lane's; it arrives whole days later.
    transfer_cost_share
        Cost of moving a unit from a hub to a warehouse in bulk, as a share of the
        lane's parcel cost to the warehouse's region.
    allow_shortfall
        Plan the best partial plan when the national quantities exceed storage.
    check_gap
        Also solve the exact LP and value the plan with the LP's best
        recourse, giving the bound and the gap (small instances only).
    """

    section = "plan"
    checks = (
        one_of(METHODS, "method"),
        within("[1, inf)", "scenarios", "lanes_per_region", "iterations", "steps",
               "chunk_skus", integer=True),
        within("(0, 1]", "margin_rate"),
        within("[0, inf)", "holding_rate", "inbound_cny_per_km", "outbound_hours",
               "promise_cny"),
        within("(0, inf]", "time_limit"),
        within("[0, inf)", "cutoff_days", "safety_days", "customs_days", integer=True),
        within("(0, inf]", "road_km_per_day", "sea_km_per_day"),
        within("[0, inf)", "wave_days", integer=True),
        within("(0, 1]", "wave_fill"),
        within("[0, inf)", "transfer_hours", "transfer_cost_share"),
    )

    method: str = "fast"
    scenarios: int = 8
    lanes_per_region: int = 6
    margin_rate: float = 0.25
    network: NetworkParams = field(default_factory=NetworkParams)
    tier_values: tuple[float, float, float] = (1.0, 0.6, 0.3)
    promise_cny: float = 1000.0
    holding_rate: float = 0.02
    inbound_cny_per_km: float = 0.002
    outbound_hours: float = 30.0
    iterations: int = 12
    steps: int = 96
    chunk_skus: int = 4096
    time_limit: float = 900.0
    cutoff_days: int = 3
    safety_days: int = 2
    road_km_per_day: float = 600.0
    sea_km_per_day: float = 650.0
    customs_days: int = 3
    wave_days: int = 3
    wave_fill: float = 0.85
    transfer_hours: float = 12.0
    transfer_cost_share: float = 0.4
    allow_shortfall: bool = False
    check_gap: bool = False

    def _validate(self) -> None:
        _check(isinstance(self.network, NetworkParams), "network", self.network,
               "must be a NetworkParams")
        v3 = self.tier_values
        _check(len(v3) == 3 and v3[0] >= v3[1] >= v3[2] >= 0.0 and v3[0] > 0.0, "tier_values",
               v3, "must be three non-increasing non-negative shares, the first positive")
