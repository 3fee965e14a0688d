"""The fast plan on a Dask cluster: the same plan, bit for bit, as in one process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.plan.test_plan import random_problem

from forestock.cli import main
from forestock.flow import run_forecast, run_plan
from forestock.forecast import ForecastParams
from forestock.plan import PastDueWarning, PlanParams, solve_plan
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize(("seed", "outbound"), [(0, None), (1, 0.35)],
                         ids=["storage binds", "outbound binds too"])
def test_fast_plan_on_the_cluster_equals_one_process(seed: int, outbound: float | None,
                                                     client: object) -> None:
    """Seven SKU chunks over two workers: stock, value and figures of one process, bit for
    bit, where storage binds and where the outbound limit binds as well (its prices move)."""
    p = random_problem(seed, n_s=50, n_r=14, n_w=6)
    q = PlanParams(scenarios=6, chunk_skus=8)
    if outbound is not None:
        # each warehouse may ship a share of the units it would hold at its share of storage
        per_hour = outbound * p.demand * p.storage / p.storage.sum() / 24
        p = p.replace(outbound=per_hour / q.network.units_per_order)
        q = q.replace(outbound_hours=24.0)
    want = solve_plan(p, q, seed=seed)
    got = solve_plan(p, q, seed=seed, client=client)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got.stock, want.stock)
    assert got.objective == want.objective
    assert got.figures == want.figures and got.figures["iterations"] > 1
    pd.testing.assert_frame_equal(got.plan, want.plan, check_exact=True)


@pytest.fixture(scope="module")
def forecast_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded world with 60 SKUs and 31 regions (seed 0), forecast (a quick model)."""
    root = tmp_path_factory.mktemp("world") / "ws"
    ws = Workspace(root)
    build_world(ws, WorldParams(seed=0, skus=60, regions=31))
    run_forecast(ws, ForecastParams(max_train_rows=20_000, rounds=40))
    return root


def test_plan_with_cluster_writes_the_same_tables(forecast_world: Path, tmp_path: Path,
                                                  client: object) -> None:
    """`forestock plan --cluster ADDRESS` and run_plan(cluster=client) (SKU chunks of 16:
    four over two workers; q90 of the world's 11.11 exceeds its storage: the best partial
    plan) write the plan, notices and replenishment run_plan writes without a cluster, bit
    for bit."""
    from distributed import Client

    assert isinstance(client, Client)
    params = PlanParams(chunk_skus=16, allow_shortfall=True)
    alone = Workspace(shutil.copytree(forecast_world, tmp_path / "alone"))
    with pytest.warns(PastDueWarning):  # (overseas brands' sea lead times: weeks)
        run_plan(alone, params)
    spread = Workspace(shutil.copytree(forecast_world, tmp_path / "spread"))
    config = tmp_path / "plan.toml"
    config.write_text(f"[plan]\nchunk_skus = {params.chunk_skus}\nallow_shortfall = true\n")
    address = client.scheduler.address
    assert main(["plan", "-w", str(spread.root), "--config", str(config), "--cluster",
                 address, "--json"]) == 0
    given = Workspace(shutil.copytree(forecast_world, tmp_path / "given"))
    with pytest.warns(PastDueWarning):
        run_plan(given, params, cluster=client)  # (the flow's API takes a client too)
    for name in ("plan", "notices", "replenishment"):
        for ws in (spread, given):
            pd.testing.assert_frame_equal(ws.read(name), alone.read(name), check_exact=True)
    facts, theirs = spread.notes()["plan"], alone.notes()["plan"]
    assert facts["cluster"] == address == given.notes()["plan"]["cluster"]
    assert theirs["cluster"] is None and facts["objective"] == theirs["objective"]


@pytest.mark.parametrize("address", ["local:0", "local:", "tcp://a b:1"])
def test_plan_refuses_a_bad_cluster_address(address: str, forecast_world: Path,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --cluster address stops the plan with exit 2, naming it; nothing is
    written."""
    ws = Workspace(shutil.copytree(forecast_world, tmp_path / "ws"))
    assert main(["plan", "-w", str(ws.root), "--cluster", address]) == 2
    assert address in capsys.readouterr().err
    assert not ws.has("plan")
