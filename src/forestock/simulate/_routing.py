"""Routing policies: for each region, the warehouses an order tries, in order.

A policy maps lane hours ``transit[warehouse, region]`` (NaN: no lane) and
hourly capacities to an ``int32`` array ``[region, rank]`` of warehouse
codes, padded with -1. An order takes the first warehouse on its region's
list that holds all its units. The policies are the network's
(:mod:`forestock.network`), which the plan's expectation follows too; add
your own to :data:`ROUTING_POLICIES`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forestock.network import nearest, nearest_only

__all__ = ["ROUTING_POLICIES", "RoutingPolicy", "nearest", "nearest_only"]

RoutingPolicy = Callable[[np.ndarray, np.ndarray], np.ndarray]

ROUTING_POLICIES: dict[str, RoutingPolicy] = {"nearest": nearest, "nearest_only": nearest_only}
"""Policies by name, as ``SimulateParams.policy`` names them."""
