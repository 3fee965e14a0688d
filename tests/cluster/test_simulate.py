"""The rehearsal on a Dask cluster: the same tables as one machine, checkpoints that resume on
either, and many rehearsals at once spread over its workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.simulate.planned import DAY, planned_tables
from tests.simulate.test_simulate import _Stop, random_problem
from tests.simulate.test_window import _window

from forestock import flow
from forestock.cli import main
from forestock.simulate import (
    ScenarioProblem,
    SimulateParams,
    SimulateResult,
    WhatIf,
    rehearse_scenarios,
    simulate,
    simulate_window,
)
from forestock.workspace import Workspace

pytestmark = pytest.mark.cluster

#: Small chunks: many round trips between the coordinator and the shards.
PARAMS = SimulateParams(chunk_orders=1_000, sample_share=0.3, scale=2.0)


def assert_same(a: SimulateResult, b: SimulateResult) -> None:
    """Every table, the stock left and the order sample equal."""
    for name, table in a.tables.items():
        pd.testing.assert_frame_equal(table, b.tables[name])
    np.testing.assert_array_equal(a.stock_left, b.stock_left)
    assert a.sample is not None and b.sample is not None
    pd.testing.assert_frame_equal(a.sample, b.sample)


@pytest.fixture(scope="module")
def one_machine() -> SimulateResult:
    """The random day rehearsed in this process by one worker."""
    return simulate(random_problem(3, n_sku=40, n_reg=8), PARAMS, seed=5)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_cluster_gives_one_machines_tables_for_any_shard_count(
        client: object, one_machine: SimulateResult, workers: int) -> None:
    """SKU shards held by actors on two workers (one a worker at least: 2, 2 and 3 shards)
    give exactly one machine's tables, stock and sample, and count the bytes they moved."""
    got = simulate(random_problem(3, n_sku=40, n_reg=8), PARAMS.replace(workers=workers),
                   seed=5, cluster=client)  # type: ignore[arg-type]
    assert got.figures["workers"] == max(workers, 2)
    assert got.figures["bytes_moved"] > 0
    assert one_machine.figures["bytes_moved"] == 0
    assert_same(one_machine, got)


@pytest.mark.parametrize("resume_on", ["cluster", "one machine"])
def test_cluster_stopped_mid_day_resumes_to_identical_tables(
        client: object, one_machine: SimulateResult, tmp_path: Path, resume_on: str) -> None:
    """A rehearsal on the cluster stopped mid-day leaves a checkpoint; resumed on the cluster
    or on one machine, it finishes with the tables of an uninterrupted run."""
    p = random_problem(3, n_sku=40, n_reg=8)
    params = PARAMS.replace(checkpoint_seconds=0.0)
    ckpt = tmp_path / "sim.ckpt"
    with pytest.raises(KeyboardInterrupt):
        simulate(p, params, seed=5, callbacks=_Stop(5), checkpoint=ckpt,
                 cluster=client)  # type: ignore[arg-type]
    assert ckpt.exists()
    on = client if resume_on == "cluster" else None
    got = simulate(p, params, seed=5, checkpoint=ckpt, resume=True,
                   cluster=on)  # type: ignore[arg-type]
    assert got.figures["resumed_at_second"] > 0 and not ckpt.exists()
    assert_same(one_machine, got)


def test_window_on_the_cluster_carries_stock_and_backlog_as_one_machine(client: object) -> None:
    """Three days of a scarce, slow network rehearsed with each day's shards on the cluster
    (stock and backlogs carried over midnight) give one machine's tables, day by day."""
    rng = np.random.default_rng(1)
    p = random_problem(2).replace(capacity=np.array([3, 2, 4], dtype=np.int64))
    window = _window(p, 3, rng)
    here = simulate_window(window, seed=3)
    there = simulate_window(window, seed=3, cluster=client)  # type: ignore[arg-type]
    assert (here.by_day["backlog"] > 0).any()
    assert there.figures["bytes_moved"] > 0
    for name, table in here.tables.items():
        pd.testing.assert_frame_equal(table, there.tables[name])


def test_flow_rehearsal_on_the_cluster_writes_one_machines_tables(client: object) -> None:
    """run_simulate with cluster= writes the outcome tables of a run without one."""
    here, there = planned_tables(), planned_tables()
    a = flow.run_simulate(here, seed=2)
    b = flow.run_simulate(there, seed=2, cluster=client)  # type: ignore[arg-type]
    assert b.facts["workers"] == 2 and b.facts["bytes_moved"] > 0
    for name in a.tables:
        pd.testing.assert_frame_equal(here[name], there[name])


def test_scenarios_on_the_cluster_are_one_machines(client: object) -> None:
    """Scenarios and what-ifs rehearsed as tasks on the cluster give the tables of the same
    run in turn in this process."""
    tables = planned_tables()
    base = ScenarioProblem.from_tables(
        DAY, *(tables[n] for n in ("forecast", "plan", "warehouses", "lanes", "skus",
                                   "regions")), 4, seed=1, what_ifs=(WhatIf(slow_lanes=1.4),))
    here = rehearse_scenarios(base, seed=3)
    there = rehearse_scenarios(base, seed=3, cluster=client)  # type: ignore[arg-type]
    assert here.figures["workers"] == 1 and there.figures["workers"] == 2
    for name, table in here.tables.items():
        pd.testing.assert_frame_equal(table, there.tables[name])


def test_cli_scenarios_on_a_running_cluster(client: object, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --scenarios K --cluster ADDRESS` on a running scheduler writes the tables
    `simulate --scenarios K` writes without one."""
    address = client.scheduler.address  # type: ignore[attr-defined]
    runs = {}
    for name, extra in (("here", []), ("there", ["--cluster", address])):
        ws = Workspace(tmp_path / name)
        ws.write_many(dict(planned_tables()))
        assert main(["simulate", "-w", str(ws.root), "--scenarios", "3", "--seed", "4",
                     "--slow-lanes", "1.2", *extra]) == 0
        runs[name] = ws
    shown = capsys.readouterr().out
    assert "lanes x1.2" in shown and "P50" in shown
    for table in ("simulate_scenarios", "simulate_scenarios_summary"):
        pd.testing.assert_frame_equal(runs["here"].read(table), runs["there"].read(table))
    assert Workspace(runs["there"].root).notes()["scenarios"]["workers"] == 2
