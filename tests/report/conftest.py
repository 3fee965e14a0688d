"""Tiny workspaces for the report tests."""

from __future__ import annotations

import pandas as pd
import pytest

from forestock.report import build_report
from forestock.workspace import Workspace

_OUTCOME_REGION_COLS = ["region_id", "hour", "orders", "units", "gmv", "shipped",
                        "delivered_24h", "delivered_48h", "late", "unfilled"]


def _world() -> dict[str, pd.DataFrame]:
    regions = pd.DataFrame({
        "region_id": ["R1", "R2", "R3", "R4"],
        "name": ["上海", "Chengdu", "Lhasa", "Harbin"],
        "province": ["上海", "Sichuan", "Xizang", "Heilongjiang"],
        "lat": [31.23, 30.66, 29.65, 45.75],
        "lon": [121.47, 104.07, 91.17, 126.63],
        "population": [24_000_000, 16_000_000, 900_000, 10_000_000],
    })
    warehouses = pd.DataFrame({
        "warehouse_id": ["W1", "W2"],
        "name": ["Shanghai RDC", "Chengdu FDC"],
        "region_id": ["R1", "R2"],
        "lat": [31.2, 30.7], "lon": [121.4, 104.1],
        "tier": ["rdc", "fdc"],
        "storage_units": [400, 100],
        "outbound_per_hour": [10, 8],
    })
    brands = pd.DataFrame({
        "brand_id": ["A", "B", "C"],
        "name": ["Apex Appliances", "Nordlys Skincare", "Tiny Socks"],
        "country": ["CN", "SE", "JP"],
        "factory_lat": [22.5, 59.3, 35.7], "factory_lon": [114.1, 18.1, 139.7],
    })
    skus = pd.DataFrame({
        "sku_id": ["S1", "S2", "S3"], "brand_id": ["A", "B", "C"],
        "category": ["tv", "cream", "socks"], "price": [5000.0, 300.0, 10.0],
        "volume_l": [80.0, 0.2, 0.1],
    })
    calendar = pd.DataFrame({
        "date": pd.to_datetime(["2024-11-11", "2025-06-18", "2025-11-11"]),
        "event": ["11.11", "6.18", "11.11"],
    })
    forecast = pd.DataFrame({
        "sku_id": ["S1"] * 3 + ["S2"] * 3,
        "region_id": ["R1"] * 3 + ["R2"] * 3,
        "date": pd.to_datetime(["2025-11-10", "2025-11-11", "2025-11-12"] * 2),
        "mean": [10.0, 60.0, 12.0, 5.0, 30.0, 6.0],
        "q10": [6.0, 40.0, 8.0, 3.0, 20.0, 4.0],
        "q50": [9.0, 58.0, 11.0, 5.0, 29.0, 6.0],
        "q90": [15.0, 85.0, 17.0, 8.0, 42.0, 9.0],
    })
    plan = pd.DataFrame({"sku_id": ["S1", "S2", "S3"], "warehouse_id": ["W1", "W2", "W1"],
                         "units": [100, 50, 20]})
    return {"regions": regions, "warehouses": warehouses, "brands": brands, "skus": skus,
            "calendar": calendar, "forecast": forecast, "plan": plan}


def _outcomes() -> dict[str, pd.DataFrame]:
    region = pd.DataFrame([
        ["R1", 0, 10, 100, 1.0e9, 90, 60, 80, 10, 10],
        ["R1", 1, 5, 50, 0.5e9, 50, 50, 50, 0, 0],
        ["R2", 0, 4, 40, 0.251e9, 40, 10, 30, 10, 0],
        ["R3", 5, 1, 10, 0.0, 0, 0, 0, 0, 10],
    ], columns=_OUTCOME_REGION_COLS)
    second = pd.DataFrame({
        "second": [0, 1, 5, 3600],
        "orders": [5, 7, 7, 1],
        "units": [50, 70, 70, 10],
        "gmv": [5.0e8, 6.0e8, 6.51e8, 0.0],
    })
    brand = pd.DataFrame({
        "brand_id": ["A", "B", "C"], "orders": [12, 6, 2], "units": [120, 60, 20],
        "gmv": [1.5e9, 2.5e8, 1.0e6], "shipped": [110, 55, 15],
        "delivered_24h": [80, 30, 10], "delivered_48h": [100, 50, 10], "unfilled": [10, 5, 5],
    })
    warehouse = pd.DataFrame({
        "warehouse_id": ["W1", "W1", "W1", "W1", "W2", "W2", "W2"],
        "hour": [0, 1, 24, 25, 0, 1, 2],
        "picked": [13, 9, 0, 0, 8, 12, 0],
        "shipped": [10, 10, 1, 1, 8, 8, 4],
        "backlog": [3, 2, 1, 0, 0, 4, 0],
    })
    return {"outcomes_region": region, "outcomes_second": second, "outcomes_brand": brand,
            "outcomes_warehouse": warehouse}


@pytest.fixture(scope="session")
def report_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A full tiny workspace: 4 regions, 2 warehouses, 3 brands (one >= CNY 1 bn, one >= 100 m).

    Day totals: 20 orders, 200 units, GMV CNY 1.751 bn; 120 units within 24 h,
    160 within 48 h, 20 late, 20 unfilled; peak 7 orders/s first at second 1;
    the summed backlog last waits at hour 24, so it clears at hour 25. Its notes
    (``forestock.json``) record the world's seed 7 and the rehearsal's seed 42.
    """
    ws = Workspace(tmp_path_factory.mktemp("report-full"))
    ws.write_many({**_world(), **_outcomes()})
    ws.note("world", {"seed": 7, "event_date": "2025-11-11"})
    ws.note("simulate", {"seed": 42, "orders": 20})
    return ws


@pytest.fixture(scope="session")
def partial_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace after forecast only: world tables and a forecast, no plan, no outcomes."""
    ws = Workspace(tmp_path_factory.mktemp("report-partial"))
    world = _world()
    del world["plan"]
    ws.write_many(world)
    return ws


@pytest.fixture
def world_frames() -> dict[str, pd.DataFrame]:
    """The tables of :func:`report_ws` before its outcomes (world, forecast, plan), in memory."""
    return _world()


@pytest.fixture
def outcome_frames() -> dict[str, pd.DataFrame]:
    """The outcome tables of :func:`report_ws`, in memory."""
    return _outcomes()


@pytest.fixture(scope="session")
def report_html(report_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of the full tiny workspace, as text."""
    out = build_report(report_ws, tmp_path_factory.mktemp("out") / "report.html")
    return out.read_text(encoding="utf-8")
