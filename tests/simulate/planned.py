"""A small planned world for the rehearsal's scenario tests, in seconds (no forecast fit)."""

from __future__ import annotations

import datetime as dt
import functools
import warnings

import numpy as np
import pandas as pd
from scipy.stats import nbinom

from forestock import flow
from forestock.plan import PastDueWarning
from forestock.world import WorldParams

#: The day the world's 11.11 falls on.
DAY = dt.date(2027, 11, 11)
#: Each forecast cell's negative binomial size (its variance: mean + mean**2 / SIZE).
SIZE = 4.0


@functools.lru_cache(maxsize=1)
def _planned() -> dict[str, pd.DataFrame]:
    tables = flow.run_world(params=WorldParams(seed=3, skus=40, regions=31)).store
    truth = tables["truth"]
    day = truth[truth["date"].dt.date == DAY]
    mean = day["units"].to_numpy(dtype=float) * np.random.default_rng(3).uniform(
        0.8, 1.2, len(day)) + 0.5
    p = SIZE / (SIZE + mean)
    forecast = pd.DataFrame({
        "sku_id": day["sku_id"].to_numpy(), "region_id": day["region_id"].to_numpy(),
        "date": day["date"].to_numpy(), "mean": mean,
        **{f"q{q}": nbinom.ppf(q / 100, SIZE, p).astype(float) for q in (10, 50, 90)}})
    tables.write_many({"forecast": forecast})
    with warnings.catch_warnings():
        # the world's overseas brands ship by a date before the history ends: the rehearsal
        # tests read the plan, not its notices
        warnings.simplefilter("ignore", PastDueWarning)
        flow.run_plan(tables, seed=3)
    return {name: tables[name] for name in tables}


def planned_tables() -> flow.Tables:
    """A fresh store of the embedded world (seed 3, 40 SKUs x 31 regions) with a forecast of
    its 11.11 made from the truth (the truth's units scaled by 0.8 to 1.2 at random as the
    mean, negative binomial quantiles around it) and the plan of that forecast; built once
    a session, copied for each caller."""
    return flow.Tables({name: frame.copy() for name, frame in _planned().items()
                        if len(frame)})  # (a one-day plan's replenishment has no rows)
