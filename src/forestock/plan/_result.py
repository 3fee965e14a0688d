"""The plan: what a solve returns, and the error a plan breaking a rule raises."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.plan._status import PlanStatus

__all__ = ["PlanError", "PlanResult"]


class PlanError(ForestockError):
    """A plan breaks a rule (capacity, integrality, national totals)."""


@dataclass(frozen=True)
class PlanResult:
    """The plan: units per SKU and warehouse, and what it promises.

    Attributes
    ----------
    plan
        The ``plan`` table (sku_id, warehouse_id, units), units > 0 only.
    status
        :class:`PlanStatus`: ``optimal`` (exact), ``ok`` (fast or a baseline),
        ``shortfall`` (the national quantities did not all fit), ``time_limit``.
    units, demand, shortfall
        Units placed, units asked for (national quantities), and the difference.
    expected_share_24h, expected_share_48h
        Expected share of the demand delivered within 24 h / 48 h over the
        scenarios, by the rehearsal's rules (:mod:`forestock.network`).
    warehouses
        Per warehouse: units, storage_units, utilisation, expected_outbound.
    objective
        The plan's value (CNY) over the scenarios: margin earned by delivery
        tier minus inbound, holding and outbound costs.
    bound, gap
        An upper bound on the objective (the LP optimum, for the exact
        method) and the relative gap to it; NaN when not known.
    costs
        inbound, holding, outbound (expected) and total, CNY.
    figures
        Further figures: ``expected_lost_24h_stock``, ``_backlog`` and ``_transit``, the
        shares of demand the plan expects to miss 24 h for each of the rehearsal's reasons
        (so that a rehearsal's losses by reason less these are the forecast's doing);
        the fast method's iterations, the exact method's LP size.
    """

    plan: pd.DataFrame
    status: PlanStatus
    units: int
    demand: int
    shortfall: int
    expected_share_24h: float
    expected_share_48h: float
    warehouses: pd.DataFrame
    method: str = "fast"
    objective: float = float("nan")
    bound: float = float("nan")
    gap: float = float("nan")
    seconds: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    stock: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64),
                              repr=False)
