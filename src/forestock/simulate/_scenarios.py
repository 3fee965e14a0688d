"""Many rehearsals at once: the day rehearsed in K demand scenarios of the forecast, as planned
and under what-ifs (a warehouse closed, lanes slowed, demand up in a region).

Scenario ``k`` of ``K`` is the plan's own model's (:mod:`forestock.uncertainty`,
as :func:`~forestock.simulate.demand_from_forecast` draws it): the ``K`` are
stratified over each SKU's national demand, so they span its distribution. Every
what-if is rehearsed on the same ``K`` demands and with the same seed, so what
differs between two what-ifs' rows of one scenario is the what-if alone. Each
rehearsal is one task: in turn in this process, or spread over the workers of a
Dask cluster (the day's stock and network sent once to every worker, each
scenario's units once to one); the table is the same, bit for bit, either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.params import Params, within
from forestock.simulate._check import check_outcomes
from forestock.simulate._demand import day_model
from forestock.simulate._params import SimulateParams
from forestock.simulate._problem import SimulateProblem
from forestock.simulate._run import simulate

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["AS_PLANNED", "MEASURES", "SCENARIO_TABLES", "ScenarioProblem", "ScenariosResult",
           "WhatIf", "load_what_ifs", "rehearse_scenarios"]

log = logging.getLogger("forestock.simulate")

#: The name of the rehearsal of the plan as it is (no what-if), always the first.
AS_PLANNED = "as planned"

#: The measures of each rehearsal summarised over the scenarios (P10, P50, P90, mean).
MEASURES = ("share_24h", "share_48h", "unfilled_share", "unfilled", "peak_backlog")

#: The tables a run of scenarios writes.
SCENARIO_TABLES = ("simulate_scenarios", "simulate_scenarios_summary")

_QUANTILES = (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))


@dataclass(frozen=True)
class WhatIf(Params):
    """A change to the rehearsed day: warehouses closed, every lane slowed, demand up by
    region. The default changes nothing (the plan as it is).

    Parameters
    ----------
    name
        How the tables and the report name it (:attr:`label`); default: its changes.
    close_warehouses
        Warehouse ids that ship nothing (their lanes closed; their stock stays).
    slow_lanes
        Factor on every lane's hours (1.3: lanes take 30% longer).
    demand_up
        ``(region_id, factor)`` pairs: each of the region's cells' units times the
        factor, rounded to the nearest unit (half to even).
    """

    section = "what_if"
    checks = (within("(0, inf)", "slow_lanes"),)

    name: str = ""
    close_warehouses: tuple[str, ...] = ()
    slow_lanes: float = 1.0
    demand_up: tuple[tuple[str, float], ...] = ()

    def _validate(self) -> None:
        if not isinstance(self.name, str):
            raise ValueError(f"name={self.name!r} is invalid: must be a string")
        if not all(isinstance(w, str) for w in self.close_warehouses):
            raise ValueError(f"close_warehouses={self.close_warehouses!r} is invalid: must "
                             "be warehouse ids")
        for pair in self.demand_up:
            ok = (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                  and isinstance(pair[1], int | float) and not isinstance(pair[1], bool)
                  and math.isfinite(pair[1]) and pair[1] >= 0)
            if not ok:
                raise ValueError(f"demand_up={self.demand_up!r} is invalid: must be "
                                 "(region_id, factor >= 0) pairs")

    @property
    def changes(self) -> bool:
        """Whether it changes anything."""
        return bool(self.close_warehouses or self.demand_up or self.slow_lanes != 1.0)

    @property
    def label(self) -> str:
        """Its name, else its changes (``W1 closed, lanes x1.3, R2 demand x1.2``), else
        :data:`AS_PLANNED`."""
        if self.name.strip():
            return self.name.strip()
        parts = [f"{', '.join(self.close_warehouses)} closed"] if self.close_warehouses else []
        if self.slow_lanes != 1.0:
            parts.append(f"lanes x{self.slow_lanes:g}")
        parts += [f"{r} demand x{f:g}" for r, f in self.demand_up]
        return ", ".join(parts) or AS_PLANNED

    def apply(self, problem: SimulateProblem) -> SimulateProblem:
        """``problem`` with the what-if's changes.

        Raises
        ------
        ForestockError
            Naming a warehouse or region the problem does not have.
        """
        if not self.changes:
            return problem
        transit, units = problem.transit, problem.cell_units
        try:
            if self.close_warehouses or self.slow_lanes != 1.0:
                transit = transit * self.slow_lanes
                closed = problem.warehouses.codes(list(self.close_warehouses),
                                                  what="warehouse_id to close")
                transit[closed, :] = np.nan
            if self.demand_up:
                factor = np.ones(len(problem.regions))
                up = problem.regions.codes([r for r, _ in self.demand_up],
                                           what="region_id of demand_up")
                factor[up] = [f for _, f in self.demand_up]
                units = np.rint(units * factor[problem.cell_region]).astype(np.int64)
        except ValueError as err:
            raise ForestockError(f"what-if {self.label!r}: {err}") from None
        return problem.replace(transit=transit, cell_units=units)


def load_what_ifs(path: str | Path) -> tuple[WhatIf, ...]:
    """The what-ifs of a TOML file, one ``[[what_if]]`` table each::

        [[what_if]]
        name = "Shanghai closed"
        close_warehouses = ["W310000"]

        [[what_if]]
        name = "lanes 30% slower, Guangzhou +20%"
        slow_lanes = 1.3
        demand_up = { R440100 = 1.2 }

    Raises
    ------
    ValueError
        Naming the file: missing, not TOML, no ``what_if`` tables, an unknown key or a
        value breaking a rule.
    """
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not TOML: {err}") from None
    tables = data.get("what_if")
    if not isinstance(tables, list) or not tables or \
            not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{path}: expected one [[what_if]] table per what-if")
    names = {f.name for f in dataclasses.fields(WhatIf)}
    out = []
    for i, table in enumerate(tables):
        unknown = sorted(set(table) - names)
        if unknown:
            raise ValueError(f"{path}: what_if {i + 1}: unknown key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(names))})")
        fields: dict[str, Any] = dict(table)
        if "close_warehouses" in fields and isinstance(fields["close_warehouses"], list):
            fields["close_warehouses"] = tuple(fields["close_warehouses"])
        if isinstance(fields.get("demand_up"), dict):
            fields["demand_up"] = tuple(fields["demand_up"].items())
        try:
            out.append(WhatIf(**fields))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: what_if {i + 1}: {err}") from None
    return tuple(out)


def _scenario_day(base: SimulateProblem, units: np.ndarray, what_if: WhatIf
                  ) -> SimulateProblem:
    """The day of one scenario: ``base``'s cells with ``units`` (cells without any left out,
    as a demand table leaves them), then the what-if."""
    keep = units > 0
    day = base.replace(cell_sku=base.cell_sku[keep], cell_region=base.cell_region[keep],
                       cell_units=units[keep])
    return what_if.apply(day)


@dataclass(frozen=True)
class ScenarioProblem:
    """One day to rehearse in many demand scenarios, as planned and under what-ifs.

    ``base`` holds the day's stock and network, and as its cells every cell of the
    forecast's model (``cell_units`` unused); ``units[:, k]`` are scenario ``k``'s units
    of those cells. ``what_ifs[0]`` changes nothing (see :meth:`from_forecast`).
    """

    base: SimulateProblem
    units: np.ndarray  # int64 [cell, scenario]
    what_ifs: tuple[WhatIf, ...] = (WhatIf(),)
    seed: int = 0  # of the scenarios' draws

    def __post_init__(self) -> None:
        if self.units.ndim != 2 or self.units.shape[0] != self.base.cell_sku.size:
            raise ValueError(f"units has shape {self.units.shape}; expected (cells, "
                             f"scenarios) with {self.base.cell_sku.size} cells")
        if not self.what_ifs:
            raise ValueError("what_ifs is empty: the first is the plan as it is")
        names = [w.label for w in self.what_ifs]
        if len(set(names)) < len(names):
            raise ValueError(f"what-ifs need distinct names, got {names}")

    @property
    def scenarios(self) -> int:
        return int(self.units.shape[1])

    def problem(self, k: int, what_if: int = 0) -> SimulateProblem:
        """The day of scenario ``k`` under ``what_ifs[what_if]``."""
        return _scenario_day(self.base, self.units[:, k], self.what_ifs[what_if])

    @classmethod
    def from_tables(cls, day: dt.date, forecast: pd.DataFrame, plan: pd.DataFrame,
                    warehouses: pd.DataFrame, lanes: pd.DataFrame, skus: pd.DataFrame,
                    regions: pd.DataFrame, scenarios: int, seed: int = 0, *,
                    correlation: float | None = None, market_sd: float = 0.0,
                    what_ifs: Sequence[WhatIf] = ()) -> ScenarioProblem:
        """:meth:`from_forecast` on the stock of ``plan`` and the network of the other
        contract tables (as :meth:`SimulateProblem.from_tables` reads them)."""
        no_demand = pd.DataFrame({"sku_id": pd.Series(dtype=object),
                                  "region_id": pd.Series(dtype=object),
                                  "units": pd.Series(dtype="int64")})
        base = SimulateProblem.from_tables(day, no_demand, plan, warehouses, lanes, skus,
                                           regions)
        return cls.from_forecast(base, forecast, day, scenarios, seed,
                                 correlation=correlation, market_sd=market_sd,
                                 what_ifs=what_ifs)

    @classmethod
    def from_forecast(cls, base: SimulateProblem, forecast: pd.DataFrame, day: dt.date,
                      scenarios: int, seed: int = 0, *, correlation: float | None = None,
                      market_sd: float = 0.0,
                      what_ifs: Sequence[WhatIf] = ()) -> ScenarioProblem:
        """``scenarios`` demand scenarios of ``day`` drawn from ``forecast`` with ``seed``
        and the plan's model (scenario ``k`` is
        :func:`~forestock.simulate.demand_from_forecast`'s ``scenario=k``), on ``base``'s
        stock and network; rehearsed as planned and under each of ``what_ifs``;
        ``market_sd`` the market's error the SKUs share (the plan's).

        Raises
        ------
        ForestockError
            A forecast without rows for the day or without quantiles, or naming a SKU or
            region ``base`` does not have.
        """
        if scenarios < 1:
            raise ValueError(f"scenarios={scenarios} is invalid: must be at least 1")
        model, sku_ids, region_ids = day_model(forecast, day, correlation, market_sd)
        try:
            cell_sku = base.skus.codes(sku_ids, what="sku_id in forecast")
            cell_region = base.regions.codes(region_ids, what="region_id in forecast")
        except ValueError as err:
            raise ForestockError(str(err)) from None
        cells = base.replace(day=day, cell_sku=cell_sku.astype(np.int32),
                             cell_region=cell_region.astype(np.int32),
                             cell_units=np.zeros(cell_sku.size, dtype=np.int64),
                             orders_cell=None, orders_time=None, orders_units=None)
        return cls(cells, model.all_scenario_units(scenarios, seed),
                   (WhatIf(), *(w for w in what_ifs)), seed)


@dataclass(frozen=True)
class ScenariosResult:
    """The rehearsals of a :class:`ScenarioProblem`: one row each, and their distribution.

    ``tables["simulate_scenarios"]`` has one row per what-if and scenario (orders,
    units, delivered within 24 h and 48 h, unfilled, their shares of the units, the
    peak backlog: the most parcels waiting in all warehouses at the end of an hour,
    and the hours until the backlogs clear); ``tables["simulate_scenarios_summary"]``
    per what-if and measure (:data:`MEASURES`) its P10, P50, P90 and mean over the
    scenarios. ``figures``: ``rehearsals``, ``orders`` (all of them), ``seconds``
    (wall), ``workers`` (the cluster's, 1 without), ``bytes_moved`` (to and from the
    cluster's workers, as Dask sizes them; 0 without).
    """

    day: dt.date
    seed: int
    scenarios: int
    what_ifs: tuple[str, ...]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.tables["simulate_scenarios_summary"]

    def quantiles(self, measure: str, what_if: str = AS_PLANNED) -> tuple[float, float, float]:
        """P10, P50 and P90 of ``measure`` over the scenarios of ``what_if``."""
        s = self.summary
        row = s[(s["what_if"] == what_if) & (s["measure"] == measure)]
        if row.empty:
            raise ValueError(f"no {measure!r} of what-if {what_if!r}")
        return float(row["p10"].iloc[0]), float(row["p50"].iloc[0]), float(row["p90"].iloc[0])


def _rehearse(base: SimulateProblem, units: np.ndarray, what_if: WhatIf,
              params: SimulateParams, seed: int) -> dict[str, int | float]:
    """One scenario rehearsed and checked: its row of ``simulate_scenarios`` (but for its
    what-if and index). Runs where the scenario is: in this process or on a worker."""
    day = _scenario_day(base, units, what_if)
    r = simulate(day, params, seed)
    check_outcomes(r, day)
    reg, wh = r.tables["outcomes_region"], r.tables["outcomes_warehouse"]
    d24, d48, unfilled = (int(reg[c].sum()) for c in ("delivered_24h", "delivered_48h",
                                                       "unfilled"))
    n = max(r.units, 1)
    return {
        "orders": r.orders, "units": r.units, "delivered_24h": d24, "delivered_48h": d48,
        "unfilled": unfilled, "share_24h": d24 / n, "share_48h": d48 / n,
        "unfilled_share": unfilled / n,
        "peak_backlog": int(wh.groupby("hour")["backlog"].sum().max()) if len(wh) else 0,
        "backlog_hours": int(r.figures["backlog_hours"]),
    }


def rehearse_scenarios(problem: ScenarioProblem, params: SimulateParams | None = None,
                       seed: int = 0, callbacks: Callbacks | None = None, *,
                       cluster: Client | None = None) -> ScenariosResult:
    """Rehearse every scenario of ``problem`` under every what-if; same seed, same tables,
    with or without a cluster.

    Parameters
    ----------
    problem
        The day, its scenarios and what-ifs.
    params
        The rehearsals' rules and run options (:class:`SimulateParams`); on a cluster
        each rehearsal runs on one worker's thread (``workers`` unused).
    seed
        Seed of the rehearsals' draws (order sizes and times, transit noise): the same
        for every scenario and what-if.
    callbacks
        Progress: one task ``"scenarios"`` counted in rehearsals.
    cluster
        A client of a Dask cluster (:func:`forestock.cluster.connect`): each rehearsal a
        task on its workers. Without one they run in turn in this process.

    Raises
    ------
    ForestockError
        A what-if naming a warehouse or region the day does not have.
    """
    params = params or SimulateParams()
    cb = callbacks or NO_CALLBACKS
    for what_if in problem.what_ifs:  # bad ids fail here, before any work
        what_if.apply(problem.base)
    runs = [(w, k) for w in range(len(problem.what_ifs)) for k in range(problem.scenarios)]
    t0 = time.perf_counter()
    cb.on_start("scenarios", len(runs))
    if cluster is None:
        rows = []
        for w, k in runs:
            rows.append(_rehearse(problem.base, problem.units[:, k], problem.what_ifs[w],
                                  params, seed))
            cb.on_step("scenarios", 1)
        workers, moved = 1, 0
    else:
        rows, workers, moved = _on_cluster(cluster, problem, params.replace(workers=1), seed,
                                           runs, cb)
    cb.on_end("scenarios")
    names = [problem.what_ifs[w].label for w, _ in runs]
    table = pd.DataFrame({"what_if": names, "scenario": [k for _, k in runs],
                          **{c: [r[c] for r in rows] for c in rows[0]}})
    result = ScenariosResult(
        day=problem.base.day, seed=seed, scenarios=problem.scenarios,
        what_ifs=tuple(w.label for w in problem.what_ifs),
        tables={"simulate_scenarios": table, "simulate_scenarios_summary": _summary(table)},
        figures={"rehearsals": float(len(runs)), "orders": float(table["orders"].sum()),
                 "seconds": time.perf_counter() - t0, "workers": float(workers),
                 "bytes_moved": float(moved)})
    log.info("rehearsed %d scenario(s) of %s under %d what-if(s) in %.1f s on %d worker(s)",
             problem.scenarios, result.day, len(problem.what_ifs), result.figures["seconds"],
             workers)
    return result


def _on_cluster(client: Client, problem: ScenarioProblem, params: SimulateParams, seed: int,
                runs: list[tuple[int, int]], cb: Callbacks
                ) -> tuple[list[dict[str, int | float]], int, int]:
    """The rehearsals of ``runs`` as tasks on the cluster's workers, how many workers, and
    the bytes sent and received: the day sent once to each worker, each scenario's units
    once to one worker (its tasks run there), each task's what-if and rules, its row back."""
    from distributed import as_completed

    from forestock.simulate._pools import cluster_workers, payload_bytes

    workers = cluster_workers(client)
    tag = uuid.uuid4().hex[:12]
    base = client.scatter(problem.base, broadcast=True, hash=False)
    units = client.scatter([np.ascontiguousarray(problem.units[:, k])
                            for k in range(problem.scenarios)], hash=False)
    futures = [client.submit(_rehearse, base, units[k], problem.what_ifs[w], params, seed,
                             key=f"forestock-scenario-{tag}-{w}-{k}") for w, k in runs]
    try:
        for _ in as_completed(futures):
            cb.on_step("scenarios", 1)
        rows: list[dict[str, int | float]] = [f.result() for f in futures]
    finally:
        for f in (*futures, *units, base):
            f.release()
    moved = payload_bytes(problem.base) * len(workers) + payload_bytes(problem.units) + \
        payload_bytes(rows) + sum(payload_bytes((problem.what_ifs[w], params)) for w, _ in runs)
    return rows, len(workers), int(moved)


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per what-if and measure: P10, P50, P90 (linear between order statistics) and mean."""
    rows = []
    for name, g in table.groupby("what_if", sort=False):
        for m in MEASURES:
            v = g[m].to_numpy(dtype=np.float64)
            q = np.quantile(v, [p for _, p in _QUANTILES])
            rows.append({"what_if": name, "measure": m,
                         **{c: float(x) for (c, _), x in zip(_QUANTILES, q, strict=True)},
                         "mean": float(v.mean())})
    return pd.DataFrame(rows)
