"""Routing policies: for each region, the warehouses an order tries, in order.

A policy maps lane hours ``transit[warehouse, region]`` (NaN: no lane) and
hourly capacities to an ``int32`` array ``[region, rank]`` of warehouse
codes, padded with -1. An order takes the first warehouse on its region's
list that holds all its units. Add your own to :data:`ROUTING_POLICIES`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["ROUTING_POLICIES", "RoutingPolicy", "nearest", "nearest_only"]

RoutingPolicy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def nearest(transit: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Every warehouse with a lane and outbound capacity, nearest first (ties by code)."""
    usable = ~np.isnan(transit) & (capacity[:, None] > 0)
    hours = np.where(usable, transit, np.inf).T  # [region, warehouse]
    order = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
    ranked_usable = np.take_along_axis(usable.T, order, axis=1)
    return np.where(ranked_usable, order, -1).astype(np.int32)


def nearest_only(transit: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Only the nearest warehouse: no spill-over to the next one (a baseline)."""
    return nearest(transit, capacity)[:, :1].copy()


ROUTING_POLICIES: dict[str, RoutingPolicy] = {"nearest": nearest, "nearest_only": nearest_only}
"""Policies by name, as ``SimulateParams.policy`` names them."""
