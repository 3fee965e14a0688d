"""How a rehearsal makes, routes and carries orders, and how it runs the work."""

from __future__ import annotations

from dataclasses import dataclass, field

from forestock.network import NetworkParams
from forestock.params import Params, one_of, within
from forestock.simulate._routing import ROUTING_POLICIES

__all__ = ["SimulateParams"]


@dataclass(frozen=True)
class SimulateParams(Params):
    """How orders are made, routed and carried, and how the work is run.

    Parameters
    ----------
    network
        The network's rules, the plan's too (:class:`forestock.network.NetworkParams`:
        promise tiers, transit noise, last mile, order sizes, the day's shape and its
        midnight surge); a configuration file's ``[network]`` table sets them for both.
    chunk_orders
        Orders held in memory at once (all workers together). Smaller chunks
        also shorten the replays where stock runs short within a chunk
        (200,000 measured faster than 1,000,000 from 1 to 50 million orders).
    horizon_hours
        Hours after midnight followed while backlogs drain.
    scale
        Multiplies the day's demand, the stock and the warehouses' hourly
        capacity alike (demand from a table of orders is taken as given).
    workers
        Workers the SKU shards run on (see ``pool``); results do not depend on it.
    policy
        Routing policy, a key of :data:`ROUTING_POLICIES`.
    factory_hours
        If set, an order no warehouse can fill ships from the factory and
        reaches the buyer this many hours (with noise) after it was placed;
        if ``None`` it is unfilled.
    sample_share
        Share of orders kept, one row each, in ``SimulateResult.sample``.
    checkpoint_seconds
        Wall-clock seconds between checkpoints (when a checkpoint file is given).
    pool
        How shards run when ``workers > 1``: ``"threads"`` (one process; the
        kernels release the GIL) or ``"processes"`` (one spawned process
        each). Results do not depend on it.
    """

    section = "simulate"
    checks = (
        within("[1_000, inf)", "chunk_orders", integer=True),
        within("[48, inf)", "horizon_hours", integer=True),
        within("(0, inf)", "scale"),
        within("[1, 256]", "workers", integer=True),
        one_of(ROUTING_POLICIES, "policy"),
        within("(0, inf]", "factory_hours", optional=True),
        within("[0, 1]", "sample_share"),
        within("[0, inf]", "checkpoint_seconds"),
        one_of(("threads", "processes"), "pool"),
    )

    network: NetworkParams = field(default_factory=NetworkParams)
    chunk_orders: int = 200_000
    horizon_hours: int = 24 * 7
    scale: float = 1.0
    workers: int = 1
    policy: str = "nearest"
    factory_hours: float | None = None
    sample_share: float = 0.0
    checkpoint_seconds: float = 30.0
    pool: str = "threads"

    def _validate(self) -> None:
        if not isinstance(self.network, NetworkParams):
            raise ValueError(f"network={self.network!r} is invalid: must be a NetworkParams")
