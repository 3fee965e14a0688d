"""Generated centres and fleet sizing from the simulate stage's parcel stream."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from forestock import Workspace
from forestock.cli import main
from forestock.sortation import GridMap, SortationParams, solve_sortation, validate_paths
from forestock.sortation._layout import CentreParams, build_centre, centre_problem
from forestock.sortation._sizing import (
    SizingParams,
    centre_for,
    fleet_curve,
    peak_hour,
    run_fleet,
    size_fleet,
)


def _strongly_connected(grid: GridMap, lanes: np.ndarray) -> bool:
    """Whether every free cell reaches every other along the one-way lanes."""
    nb = grid.neighbours()
    v, d = np.nonzero(((lanes[:, None] >> np.arange(4)) & 1).astype(bool) & (nb >= 0))
    a = csr_matrix((np.ones(v.size), (v, nb[v, d])), shape=(grid.size, grid.size))
    free = grid.free
    return bool(connected_components(a[free][:, free], directed=True,
                                     connection="strong")[0] == 1)


@pytest.mark.parametrize(("rows", "cols", "every"), [(3, 4, 2), (5, 9, 3), (1, 2, 1)])
def test_centre_layout(rows: int, cols: int, every: int) -> None:
    """Stations on the top and bottom lanes, four drop cells per chute, lanes strongly connected."""
    c = build_centre(CentreParams(chute_rows=rows, chute_cols=cols, station_every=every))
    g = c.grid
    assert c.n_chutes == rows * cols and (g.height, g.width) == (3 * rows + 2, 3 * cols)
    assert set((c.induction // g.width).tolist()) == {0, g.height - 1}
    assert c.induction.size == 2 * len(range(every // 2, cols, every))
    assert (np.diff(c.drop_ptr) == 4).all() and g.free[c.drops].all()
    assert not g.free[c.chutes].any() and (c.lanes[~g.free] == 0).all()
    assert (c.lanes[g.free] > 0).all()  # no dead end
    assert _strongly_connected(g, c.lanes)
    # a drop cell is passed, not entered: one way in and one way on
    assert np.isin(c.lanes[c.drops], [1, 2, 4, 8]).all()


def test_assign_spreads_each_destination() -> None:
    """Chutes go to destinations by parcels, at least one each, spread across the field."""
    c = build_centre(CentreParams(chute_rows=2, chute_cols=5))
    dest, share = c.assign({"A": 60.0, "B": 30.0, "C": 10.0, "D": 0.0})
    assert set(dest) == {"A", "B", "C"}
    assert np.isclose(share.sum(), 1.0)
    assert np.isclose(share[dest == "A"].sum(), 0.6)
    cols = (c.chutes[dest == "A"] % c.grid.width)
    assert np.ptp(cols) >= c.grid.width // 2
    with pytest.raises(ValueError, match="destinations but only"):
        c.assign({str(i): 1.0 for i in range(11)})


@pytest.mark.parametrize(("model", "turning"),
                         [("rotation", "convert"), ("rotation", "state"), ("four", "convert")])
def test_parcel_flow_run_is_valid(model: str, turning: str) -> None:
    """Robots of a generated centre carry parcels to chutes, keeping to the one-way lanes."""
    c = build_centre(CentreParams(chute_rows=3, chute_cols=4))
    dest, share = c.assign({"A": 3.0, "B": 1.0})
    p = centre_problem(c, 20, share, steps=300, seed=2, model=model, chute_dest=dest)
    r = solve_sortation(p, SortationParams(planner="pibt", turning=turning), seed=2)
    assert r.positions is not None and r.headings is not None
    validate_paths(p.grid, r.positions, r.headings if model == "rotation" else None, c.lanes)
    assert r.tasks_finished > 10 and 0 < r.loaded_share < 1
    assert r.throughput_per_hour().sum() == r.tasks_finished


def test_centre_runs_are_deterministic() -> None:
    """The same centre, fleet and seed give the same paths and parcels."""
    c = build_centre(CentreParams(chute_rows=3, chute_cols=4))
    dest, share = c.assign({"A": 3.0, "B": 1.0, "C": 1.0})
    p = centre_problem(c, 15, share, steps=200, seed=5, chute_dest=dest)
    a, b = solve_sortation(p, seed=5), solve_sortation(p, seed=5)
    assert a.positions is not None and b.positions is not None
    assert np.array_equal(a.positions, b.positions) and a.tasks_finished == b.tasks_finished


def test_bad_lanes_and_chute_groups_are_refused() -> None:
    """Lanes of the wrong size or values, and chute groups of the wrong size, are refused."""
    from forestock.sortation import InstanceError

    c = build_centre(CentreParams(chute_rows=2, chute_cols=2))
    dest, share = c.assign({"A": 1.0})
    p = centre_problem(c, 3, share, steps=10, chute_dest=dest)
    with pytest.raises(InstanceError, match="lanes must be uint8"):
        p.replace(lanes=c.lanes[:-1])
    with pytest.raises(InstanceError, match="lanes must be uint8"):
        p.replace(lanes=np.full(c.grid.size, 16, dtype=np.uint8))
    with pytest.raises(ValueError, match="chute_dest"):
        centre_problem(c, 3, share, steps=10, chute_dest=dest[:-1])


def test_loading_takes_its_steps() -> None:
    """Robots stand at the station while loaded: longer loading, fewer parcels, still valid."""
    done = []
    for load in (0, 4, 12):
        c = build_centre(CentreParams(chute_rows=3, chute_cols=4, load_steps=load))
        dest, share = c.assign({"A": 3.0, "B": 1.0})
        p = centre_problem(c, 12, share, steps=300, seed=1, chute_dest=dest)
        r = solve_sortation(p, seed=1)
        assert r.positions is not None
        # a loaded robot never leaves a station before load_steps more steps
        on = np.isin(r.positions, c.induction)
        runs = np.diff(np.concatenate([np.zeros((1, 12), bool), on, np.zeros((1, 12), bool)
                                       ]).astype(np.int8), axis=0)
        starts, ends = np.nonzero(runs == 1), np.nonzero(runs == -1)
        lengths = ends[0] - starts[0]
        assert lengths.max() >= load + 1
        done.append(r.tasks_finished)
    assert done[0] > done[1] > done[2] > 0


def test_one_way_centre_beats_two_way_plain_pibt() -> None:
    """On the same centre, one-way lanes carry more parcels than two-way aisles with plain PIBT."""
    sp = SizingParams(warmup_steps=100, measure_steps=400,
                      centre=CentreParams(chute_rows=4, chute_cols=6))
    centre, dest, share = centre_for(3000.0, {"A": 5.0, "B": 3.0, "C": 1.0}, sp)
    plain = SortationParams(highway=0, congestion_weight=0.0, commit_weight=0.0,
                            record_paths=False, validate=False)
    ours, _ = run_fleet(centre, dest, share, 40, sp, seed=0)
    base, _ = run_fleet(centre, dest, share, 40, sp, plain, seed=0, lanes=False)
    assert ours["parcels_per_hour"] > base["parcels_per_hour"]


def test_centre_reaches_the_real_world_rate() -> None:
    """100 robots on the centre generated for 6,700 parcels an hour sort >= 67 a robot-hour."""
    sp = SizingParams(warmup_steps=200, measure_steps=600)
    mix = {f"R{i}": 100.0 / (i + 1) for i in range(40)}
    centre, dest, share = centre_for(6700.0, mix, sp)
    curve = fleet_curve(centre, dest, share, [25, 50, 100], sp, seed=0)
    assert curve["per_robot_hour"].iloc[-1] >= 20_000 / 300
    assert curve["parcels_per_hour"].is_monotonic_increasing
    assert curve["cells_per_robot"].iloc[-1] == centre.n_free / 100


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
    sp = SizingParams(warmup_steps=60, measure_steps=240, centre=CentreParams(chute_rows=3))
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
    assert main(["sortation", "size", "--warehouse", "W-SEL", "-w", str(ws.root),
                 "--station-rate", "0"]) == 2
