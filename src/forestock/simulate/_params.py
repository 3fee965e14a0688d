"""How a rehearsal makes, routes and carries orders, and how it runs the work."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forestock.params import toml_fields
from forestock.simulate._routing import ROUTING_POLICIES

__all__ = ["SimulateParams"]


@dataclass(frozen=True)
class SimulateParams:
    """How orders are made, routed and carried, and how the work is run.

    Parameters
    ----------
    size_probs
        Probability of an order of 1, 2, 3, ... units.
    surge
        Order rate in the first second after midnight, in multiples of the
        day's average rate, on top of the diurnal curve.
    surge_seconds
        Decay time of the midnight surge.
    transit_noise
        Lane hours vary uniformly by up to this share either way.
    last_mile_hours
        Hours from the destination's depot to the buyer's door.
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

    size_probs: tuple[float, ...] = (0.72, 0.18, 0.07, 0.03)
    surge: float = 32.0
    surge_seconds: float = 420.0
    transit_noise: float = 0.15
    last_mile_hours: float = 2.0
    chunk_orders: int = 200_000
    horizon_hours: int = 24 * 7
    scale: float = 1.0
    workers: int = 1
    policy: str = "nearest"
    factory_hours: float | None = None
    sample_share: float = 0.0
    checkpoint_seconds: float = 30.0
    pool: str = "threads"

    def __post_init__(self) -> None:
        p = np.asarray(self.size_probs, dtype=float)
        if p.size == 0 or (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"size_probs must be non-negative and add up to 1, got {p}")
        if self.surge < 0 or self.surge_seconds <= 0:
            raise ValueError(f"surge must be >= 0 and surge_seconds > 0, got {self.surge}, "
                             f"{self.surge_seconds}")
        if not 0 <= self.transit_noise < 1:
            raise ValueError(f"transit_noise must be in [0, 1), got {self.transit_noise}")
        if self.last_mile_hours < 0:
            raise ValueError(f"last_mile_hours must be >= 0, got {self.last_mile_hours}")
        if self.chunk_orders < 1_000:
            raise ValueError(f"chunk_orders must be >= 1000, got {self.chunk_orders}")
        if self.horizon_hours < 48:
            raise ValueError(f"horizon_hours must be >= 48, got {self.horizon_hours}")
        if not (isinstance(self.scale, int | float) and math.isfinite(self.scale)
                and self.scale > 0):
            raise ValueError(f"scale must be a positive number, got {self.scale!r}")
        if not 1 <= self.workers <= 256:
            raise ValueError(f"workers must be from 1 to 256, got {self.workers}")
        if self.policy not in ROUTING_POLICIES:
            raise ValueError(f"policy must be one of {', '.join(ROUTING_POLICIES)}, got "
                             f"{self.policy!r}")
        if self.factory_hours is not None and not self.factory_hours > 0:
            raise ValueError(f"factory_hours must be > 0 or None, got {self.factory_hours}")
        if not 0 <= self.sample_share <= 1:
            raise ValueError(f"sample_share must be in [0, 1], got {self.sample_share}")
        if self.pool not in ("threads", "processes"):
            raise ValueError(f"pool must be 'threads' or 'processes', got {self.pool!r}")
        if self.checkpoint_seconds < 0:
            raise ValueError(f"checkpoint_seconds must be >= 0, got {self.checkpoint_seconds}")

    def replace(self, **changes: object) -> SimulateParams:
        """A copy with some fields changed (and checked)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: str | Path) -> SimulateParams:
        """Load parameters from a TOML file (a ``[simulate]`` table, or top-level keys).

        Unknown keys raise ``ValueError`` naming them.
        """
        return cls(**toml_fields(path, "simulate", cls))
