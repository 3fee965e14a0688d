"""The report's maps: province outlines from the dashboard's vendored map of China, and
points alone for a network elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.report import build_report
from forestock.report._outlines import (
    CHINA_JSON,
    decode_echarts,
    inside_china,
    province_rings,
    with_outlines,
)

#: Capitals in their provinces (lat, lon, the map's name of the province).
CAPITALS = [(39.90, 116.40, "北京"), (43.83, 87.62, "新疆"), (29.65, 91.17, "西藏"),
            (23.13, 113.26, "广东"), (45.75, 126.63, "黑龙江"), (30.66, 104.07, "四川"),
            (31.23, 121.47, "上海")]
#: Points outside China: Seoul, Busan, Tokyo, Hanoi, Ulaanbaatar.
ABROAD = [(37.57, 126.98), (35.18, 129.08), (35.68, 139.69), (21.03, 105.85), (47.92, 106.92)]


def test_decoded_map_puts_capitals_in_their_provinces() -> None:
    """ECharts' packed coordinates decode to rings that hold each capital in its own
    province (and in no other), lie within China's extent, and close on themselves."""
    from matplotlib.path import Path as Polygon

    rings = dict(province_rings())
    assert len(rings) == 34
    for lat, lon, name in CAPITALS:
        holders = [n for n, rs in rings.items()
                   if any(Polygon(r).contains_point((lon, lat)) for r in rs)]
        assert holders == [name], (name, holders)
    every = np.concatenate([r for rs in rings.values() for r in rs])
    assert every[:, 0].min() > 73 and every[:, 0].max() < 136
    assert every[:, 1].min() > 3 and every[:, 1].max() < 54
    assert all(np.abs(r[0] - r[-1]).max() < 0.2 for rs in rings.values() for r in rs)


def test_decode_leaves_plain_geojson_alone() -> None:
    """A map that is not packed is returned as it is; a packed one no longer says so."""
    raw = json.loads(CHINA_JSON.read_text(encoding="utf-8"))
    plain = decode_echarts(raw)
    assert "UTF8Encoding" not in plain
    assert decode_echarts(plain) is plain


def test_outlines_only_for_a_network_in_china() -> None:
    """Points in China get the outlines, a Korean network not (and no error)."""
    lat, lon = (np.array([c[i] for c in CAPITALS]) for i in (0, 1))
    assert inside_china(lat, lon).all()
    assert with_outlines(lat, lon)
    far = np.array(ABROAD)
    assert not inside_china(far[:, 0], far[:, 1]).any()
    assert not with_outlines(far[:, 0], far[:, 1])
    assert not with_outlines(np.array([np.nan]), np.array([np.nan]))


@pytest.mark.parametrize("korea", [False, True])
def test_report_maps_draw_outlines_in_china_only(korea: bool, tmp_path: Path,
                                                 world_frames: dict[str, pd.DataFrame],
                                                 outcome_frames: dict[str, pd.DataFrame]
                                                 ) -> None:
    """The delivery map of a network in China carries the provinces' outlines; the same
    network moved to Korea is drawn as points on a graticule fitted to them."""
    frames = {**world_frames, **outcome_frames}
    if korea:
        frames["regions"] = frames["regions"].assign(lat=[37.57, 35.18, 35.16, 37.46],
                                                     lon=[126.98, 129.08, 126.85, 126.71])
    html = build_report(frames, tmp_path / "r.html").read_text(encoding="utf-8")
    assert ('"name":"provinces"' in html) is not korea
    assert "Regions: marker size" in html
