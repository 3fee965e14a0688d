"""Shared fixtures: tiny, named, documented instances."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def tiny_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    """A Korean three-region network with a three-week event ("추석 세일") each September.

    Regions 서울, 부산, 광주; warehouses in 서울 (rdc) and 부산 (fdc); two brands,
    four SKUs (one launched mid-history); daily history from 2025-01-01 to
    2026-08-31 with the event at ten times the usual rate; truth for the
    2026 event window.
    """
    rng = np.random.default_rng(seed)
    regions = pd.DataFrame({
        "region_id": ["KR-11", "KR-26", "KR-29"],
        "name": ["서울", "부산", "광주"],
        "province": ["서울특별시", "부산광역시", "광주광역시"],
        "lat": [37.57, 35.18, 35.16],
        "lon": [126.98, 129.08, 126.85],
        "population": [9_400_000, 3_300_000, 1_400_000],
    })
    warehouses = pd.DataFrame({
        "warehouse_id": ["W-SEL", "W-PUS"],
        "name": ["서울 허브", "부산 센터"],
        "region_id": ["KR-11", "KR-26"],
        "lat": [37.5, 35.1],
        "lon": [127.0, 129.0],
        "tier": ["rdc", "fdc"],
        "storage_units": [60_000, 20_000],
        "outbound_per_hour": [900, 300],
    })
    brands = pd.DataFrame({
        "brand_id": ["B1", "B2"],
        "name": ["아모레", "上海家化"],
        "country": ["KR", "CN"],
        "factory_lat": [37.4, 31.2],
        "factory_lon": [127.1, 121.5],
    })
    skus = pd.DataFrame({
        "sku_id": ["S1", "S2", "S3", "S4"],
        "brand_id": ["B1", "B1", "B2", "B2"],
        "category": ["beauty", "beauty", "home", "home"],
        "price": [120.0, 45.5, 300.0, 19.9],
        "volume_l": [0.3, 0.2, 5.0, 1.0],
    })
    lanes = pd.DataFrame(
        [
            ("W-SEL", "KR-11", 6.0, 2.0), ("W-SEL", "KR-26", 20.0, 4.0),
            ("W-SEL", "KR-29", 16.0, 3.5), ("W-PUS", "KR-11", 22.0, 4.0),
            ("W-PUS", "KR-26", 5.0, 2.0), ("W-PUS", "KR-29", 14.0, 3.0),
        ],
        columns=["warehouse_id", "region_id", "transit_hours", "cost_per_unit"],
    )
    event = "추석 세일"
    windows = [(dt.date(2025, 9, 1), dt.date(2025, 9, 21)), (dt.date(2026, 9, 1),
                                                              dt.date(2026, 9, 21))]
    cal = [(d, event) for a, b in windows for d in pd.date_range(a, b).date]
    cal += [(dt.date(2025, 12, 25), "christmas"), (dt.date(2026, 12, 25), "christmas")]
    calendar = pd.DataFrame(cal, columns=["date", "event"])
    days = pd.date_range("2025-01-01", "2026-09-21")
    in_event = np.zeros(len(days), dtype=bool)
    for a, b in windows:
        in_event |= (days.date >= a) & (days.date <= b)
    base = np.array([[8.0, 3.0, 1.5], [4.0, 1.5, 0.7], [2.0, 1.0, 0.5], [0.3, 0.1, 0.1]])
    growth = 1.0 + 0.3 * np.arange(len(days)) / 365
    rate = base[:, :, None] * growth[None, None, :] * np.where(in_event, 10.0, 1.0)[None, None, :]
    rate[3, :, days < pd.Timestamp("2025-10-01")] = 0.0  # S4 launched 2025-10-01
    units = rng.poisson(rate)
    s, r, d = np.nonzero(units)
    sales = pd.DataFrame({
        "date": days[d],
        "sku_id": skus["sku_id"].to_numpy()[s],
        "region_id": regions["region_id"].to_numpy()[r],
        "units": units[s, r, d],
    })
    cut = pd.Timestamp("2026-08-31")
    return {
        "regions": regions,
        "warehouses": warehouses,
        "brands": brands,
        "skus": skus,
        "lanes": lanes,
        "calendar": calendar,
        "history": sales[sales["date"] <= cut].reset_index(drop=True),
        "truth": sales[sales["date"] > cut].reset_index(drop=True),
    }


def write_csvs(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Write each table as ``<name>.csv`` (UTF-8) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny() -> dict[str, pd.DataFrame]:
    """The tiny Korean network's tables (see :func:`tiny_tables`)."""
    return tiny_tables()


@pytest.fixture
def tiny_dir(tmp_path: Path, tiny: dict[str, pd.DataFrame]) -> Path:
    """The tiny network as CSV files in a folder with a non-Latin name."""
    return write_csvs(tmp_path / "데이터 表", tiny)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}
