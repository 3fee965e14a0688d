"""The forecasting problem and its parameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from forestock import _runtime
from forestock.events import Window
from forestock.params import Params, within


def quantile_columns(levels: tuple[float, ...]) -> list[str]:
    """Column names of quantile levels: 0.1 -> ``q10``."""
    return [f"q{round(q * 100):02d}" for q in levels]


@dataclass(frozen=True)
class ForecastParams(Params):
    """Settings of the forecast engines.

    Parameters
    ----------
    quantiles
        Quantile levels to output besides q10, q50 and q90, each in (0, 1).
    coverage
        Share of outcomes the central interval of the calibrated quantiles
        aims to cover (q10..q90: 0.8).
    max_train_rows
        Rows the global model learns from at most (sampled by series).
    rounds, learning_rate, num_leaves, min_data_in_leaf, tweedie_power
        LightGBM settings. Smaller trees with larger leaves (31 and 100, from 63 and
        50) carry better to data the model was not built beside: on the evaluation
        suite's festival, promo, grocery and Stallion's rolling origins WRMSSE went
        0.832/1.370/1.334/0.544 -> 0.827/1.302/1.251/0.534.
    threads
        Threads LightGBM may use; default: the cores available to forestock
        (``$FORESTOCK_THREADS``, else the affinity mask capped by the cgroup's
        CPU quota; see ``forestock._runtime``). The forecast is identical for any
        count on data small enough for one thread (under 200,000 training rows);
        above, LightGBM's sums may round differently with a different count.
    growth_days, shrink
        Seasonal naive: days of recent history measuring growth, and units
        of evidence before a SKU's own growth outweighs the national one.
    """

    section = "forecast"
    checks = (
        within("(0, 1)", "coverage"),
        within("[1_000, inf)", "max_train_rows", integer=True),
        within("[1, inf)", "rounds", "min_data_in_leaf", "threads", integer=True),
        within("[2, inf)", "num_leaves", integer=True),
        within("(0, 1]", "learning_rate"),
        within("(1, 2)", "tweedie_power"),
        within("[7, inf)", "growth_days", integer=True),
        within("[0, inf]", "shrink"),
    )

    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    coverage: float = 0.8
    max_train_rows: int = 600_000
    rounds: int = 200
    learning_rate: float = 0.08
    num_leaves: int = 31
    min_data_in_leaf: int = 100
    tweedie_power: float = 1.3
    threads: int = field(default_factory=_runtime.threads)
    growth_days: int = 56
    shrink: float = 50.0

    def _validate(self) -> None:
        if not self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must lie in (0, 1), got {self.quantiles}")
        if len({round(q * 100) for q in self.quantiles}) != len(self.quantiles):
            raise ValueError(f"quantiles must differ in whole percents, got {self.quantiles}")


@dataclass(frozen=True)
class ForecastProblem:
    """What to forecast from: the history, the calendar, the window, and what else is known.

    ``skus``, ``regions`` and ``prices`` are optional: with ``skus`` and
    ``regions`` every SKU x region pair is forecast (not only the pairs seen
    in the history) and their attributes become features; ``prices`` gives
    planned prices.
    """

    history: pd.DataFrame
    calendar: pd.DataFrame
    window: Window
    skus: pd.DataFrame | None = None
    regions: pd.DataFrame | None = None
    prices: pd.DataFrame | None = None

    def replace(self, **changes: object) -> ForecastProblem:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
