"""A small China world rehearsed live: the dashboard's instance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forestock.cli import main
from forestock.workspace import Workspace

DAY = pd.Timestamp("2027-11-11")


def short_plan(ws: Workspace, share: float) -> pd.DataFrame:
    """Stock for ``share`` of the event day's truth, each region's units at its nearest
    warehouse (by lane hours): short of demand, so SKUs run out at warehouses."""
    truth = ws.read("truth")
    day = truth[truth["date"] == DAY]
    lanes = ws.read("lanes").sort_values(["region_id", "transit_hours", "warehouse_id"])
    nearest = lanes.drop_duplicates("region_id").set_index("region_id")["warehouse_id"]
    day = day.assign(warehouse_id=day["region_id"].map(nearest))
    plan = day.groupby(["sku_id", "warehouse_id"], as_index=False, observed=True)["units"].sum()
    plan["units"] = (plan["units"] * share).astype("int64")
    return plan[plan["units"] > 0].reset_index(drop=True)


@pytest.fixture(scope="session")
def china_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded China world (seed 0, 24 SKUs, 31 regions), a plan holding 70% of each
    region's event-day units at its nearest warehouse, and 11.11 rehearsed with
    `simulate --live --scale 3` in chunks of 5,000 orders (its progress file written)."""
    folder = tmp_path_factory.mktemp("china") / "ws"
    assert main(["world", "-w", str(folder), "--skus", "24", "--regions", "31", "--json"]) == 0
    ws = Workspace(folder)
    ws.write("plan", short_plan(ws, 0.7))
    assert main(["simulate", "-w", str(folder), "--live", "--scale", "3", "--chunk-orders",
                 "5000", "--json"]) == 0
    return folder
