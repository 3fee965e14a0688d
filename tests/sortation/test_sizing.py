"""Generated centres and fleet sizing from the simulate stage's parcel stream."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock import Workspace
from forestock.cli import main
from forestock.sortation import solve, validate_paths
from forestock.sortation._layout import CentreParams, build_centre, centre_problem
from forestock.sortation._sizing import SizingParams, peak_hour, size_fleet


def test_centre_layout() -> None:
    """A centre has stations on both edges, one drop cell at least per chute, no dead ends."""
    c = build_centre(CentreParams(chute_rows=3, chute_cols=4))
    g = c.grid
    assert c.n_chutes == 12 and c.induction.size >= 4
    cols = set((c.induction % g.width).tolist())
    assert cols == {0, g.width - 1}
    assert (np.diff(c.drop_ptr) >= 1).all() and g.free[c.drops].all()
    assert not g.free[c.chutes].any()
    degree = (g.neighbours() >= 0).sum(axis=1)
    assert (degree[g.free] >= 2).all()


def test_assign_gives_every_destination_a_chute() -> None:
    """Chutes go to destinations in proportion to parcels; the busiest gets the nearest."""
    c = build_centre(CentreParams(chute_rows=2, chute_cols=5))
    dest, share = c.assign({"A": 60.0, "B": 30.0, "C": 10.0, "D": 0.0})
    assert set(dest) == {"A", "B", "C"} and dest[0] == "A"
    assert np.isclose(share.sum(), 1.0)
    assert np.isclose(share[dest == "A"].sum(), 0.6)
    with pytest.raises(ValueError, match="destinations but only"):
        c.assign({str(i): 1.0 for i in range(11)})


def test_parcel_flow_run_is_valid() -> None:
    """Robots of a generated centre carry parcels to chutes without any conflict."""
    c = build_centre(CentreParams(chute_rows=3, chute_cols=4))
    _, share = c.assign({"A": 3.0, "B": 1.0})
    p = centre_problem(c, 20, share, steps=300, seed=2)
    r = solve(p, seed=2)
    assert r.positions is not None and r.headings is not None
    validate_paths(p.grid, r.positions, r.headings)
    assert r.tasks_finished > 20 and 0 < r.loaded_share < 1
    assert r.throughput_per_hour().sum() == r.tasks_finished


def _tiny_flow(tiny: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The simulate stage run on the tiny network, all stock in the Seoul hub."""
    from forestock.simulate import SimulateProblem, simulate

    day = dt.date(2026, 9, 1)
    truth = tiny["truth"]
    demand = truth[truth["date"].dt.date == day]
    stock = demand.groupby("sku_id", as_index=False)["units"].sum()
    plan = pd.DataFrame({"sku_id": stock["sku_id"], "warehouse_id": "W-SEL",
                         "units": stock["units"] * 2})
    problem = SimulateProblem.from_tables(day, demand, plan, tiny["warehouses"], tiny["lanes"],
                                          tiny["skus"], tiny["regions"])
    return simulate(problem, seed=0).tables["outcomes_flow"]


def test_peak_hour_and_unknown_warehouse(tiny: dict[str, pd.DataFrame]) -> None:
    """The peak hour holds the most parcels; a warehouse that ships nothing is an error."""
    from forestock.errors import ForestockError

    flow = _tiny_flow(tiny)
    hour, mix = peak_hour(flow, "W-SEL")
    per_hour = flow[flow["warehouse_id"] == "W-SEL"].groupby("hour")["parcels"].sum()
    assert sum(mix.values()) == per_hour.max() and per_hour.idxmax() == hour
    with pytest.raises(ForestockError, match="no parcels for warehouse 'W-XXX'"):
        peak_hour(flow, "W-XXX")


def test_size_fleet_meets_a_small_peak() -> None:
    """The fleet found meets the target; one robot fewer than it was tried and fell short."""
    sp = SizingParams(warmup_steps=60, measure_steps=240,
                      centre=CentreParams(chute_rows=3, chute_cols=4))
    r = size_fleet(600.0, {"A": 2.0, "B": 1.0}, sp, seed=0)
    assert r.met and r.per_hour >= 600
    below = r.curve[r.curve["robots"] < r.robots]
    assert (below["parcels_per_hour"] < 600).all()


def test_cli_size_from_simulate_output(tiny: dict[str, pd.DataFrame], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock sortation size` sizes W-SEL from outcomes_flow and writes both PNGs."""
    ws = Workspace(tmp_path / "ws")
    ws.write_many({"regions": tiny["regions"], "warehouses": tiny["warehouses"],
                   "outcomes_flow": _tiny_flow(tiny)}, check=False)
    assert main(["sortation", "size", "--warehouse", "W-SEL", "-w", str(ws.root),
                 "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["met"] and facts["robots"] >= 1
    assert Path(facts["congestion_png"]).read_bytes()[:4] == b"\x89PNG"
    assert Path(facts["fleet_png"]).read_bytes()[:4] == b"\x89PNG"
    assert ws.notes()["sortation"]["robots"] == facts["robots"]
    assert main(["sortation", "size", "--warehouse", "nowhere", "-w", str(ws.root)]) == 2
