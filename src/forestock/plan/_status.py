"""How a plan, and the LP behind the exact method, ended: string enums whose values are what
tables, notes and JSON record."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LpStatus", "PlanStatus"]


class PlanStatus(StrEnum):
    """How a plan ended (:attr:`forestock.plan.PlanResult.status`)."""

    OK = "ok"
    """The fast method or a baseline placed every unit asked for."""
    OPTIMAL = "optimal"
    """The exact method: HiGHS proved the LP optimal (the plan is its rounding)."""
    TIME_LIMIT = "time_limit"
    """The exact method: HiGHS stopped at ``time_limit`` with its best plan so far."""
    SHORTFALL = "shortfall"
    """The national quantities did not all fit (``allow_shortfall``): a partial plan."""


class LpStatus(StrEnum):
    """What HiGHS said of the plan's LP."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    OTHER = "other"
    """Any other HiGHS model status (its name is kept beside, for messages)."""
