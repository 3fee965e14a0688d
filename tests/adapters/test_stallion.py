"""The Stallion adapter: real monthly data turned into forestock's table contracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.adapters import stallion_tables
from forestock.errors import ForestockError
from forestock.tables import validate
from tests.conftest import SHARED

STALLION = SHARED / "data" / "stallion" / "stallion_2013_2016.parquet"
needs_data = pytest.mark.skipif(not STALLION.exists(),
                                reason=f"the Stallion data ({STALLION}) is absent")


@needs_data
def test_tables_meet_the_contracts() -> None:
    """Every table validates, with 58 agencies as regions, 25 SKUs and monthly dates."""
    t = stallion_tables(STALLION)
    for name in ("regions", "brands", "skus", "calendar", "history", "prices"):
        validate(t[name], name)
    assert len(t["regions"]) == 58 and len(t["skus"]) == 25
    assert (pd.to_datetime(t["history"]["date"]).dt.day == 1).all()
    raw = pd.read_parquet(STALLION)
    assert t["history"]["units"].sum() == pytest.approx(raw["volume"].clip(lower=0).sum() * 100,
                                                        rel=1e-4)


@needs_data
def test_a_zero_price_is_not_a_plan() -> None:
    """Months Stallion prices at zero (no sales) carry the series' last price instead."""
    t = stallion_tables(STALLION)
    raw = pd.read_parquet(STALLION)
    zero = raw["price_actual"] <= 0
    assert zero.any()
    prices = t["prices"].set_index(["date", "sku_id", "region_id"])["price"]
    rows = raw[zero & (raw["sku"].isin(t["skus"].loc[t["skus"]["price"] > 0, "sku_id"]))]
    got = prices.reindex(pd.MultiIndex.from_arrays(
        [pd.to_datetime(rows["date"]), rows["sku"].astype(str), rows["agency"].astype(str)]))
    assert (got.to_numpy() > 0).all()
    assert np.isfinite(t["prices"]["price"]).all()


def test_missing_file_and_columns_are_refused(tmp_path: Path) -> None:
    """A missing file or a file without the needed columns: a clear error."""
    base = tmp_path
    with pytest.raises(ForestockError, match="does not exist"):
        stallion_tables(base / "none.parquet")
    pd.DataFrame({"agency": ["a"]}).to_parquet(base / "bad.parquet")
    with pytest.raises(ForestockError, match="missing columns"):
        stallion_tables(base / "bad.parquet")
