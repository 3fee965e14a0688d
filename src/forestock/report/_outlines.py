"""Province outlines for the report's maps, from the map the dashboard ships.

The dashboard vendors ECharts' ``china.json`` (Apache-2.0; see
``forestock/serve/static/vendor/SOURCE.md``): GeoJSON of China's 34 province-level
divisions, its coordinates compressed the way ECharts packs them. The report decodes it
once and draws the outlines as a line trace under its points, so its maps show China
without plotly.js fetching any map from the network. A network elsewhere (most of its
regions outside these outlines) gets its points alone, on a graticule fitted to them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["CHINA_JSON", "decode_echarts", "geo_axes", "inside_china", "outline_trace",
           "province_rings", "with_outlines"]

#: The dashboard's vendored map of China.
CHINA_JSON = Path(__file__).resolve().parents[1] / "serve" / "static" / "vendor" / "china.json"
#: Digits kept of each outline coordinate (degrees): 0.01 is about a kilometre.
_DIGITS = 2


def _decode_ring(text: str, offset: tuple[int, int], scale: float) -> np.ndarray:
    """One ring of ECharts' packing: pairs of characters, each ``code - 64`` a zigzag-coded
    step from the previous point (the first from ``offset``), in units of 1/``scale``
    degree; returns ``(n, 2)`` longitudes and latitudes."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - 64
    steps = (codes >> 1) ^ -(codes & 1)
    xy = steps.reshape(-1, 2)
    xy[0] += np.asarray(offset, dtype=np.int64)
    return np.cumsum(xy, axis=0) / scale


def decode_echarts(geo: dict[str, Any]) -> dict[str, Any]:
    """Plain GeoJSON from ECharts' compressed map JSON (``UTF8Encoding``; ``geo`` itself
    when not compressed), rings as lists of ``[lon, lat]``."""
    if not geo.get("UTF8Encoding"):
        return geo
    scale = float(geo.get("UTF8Scale") or 1024)
    features = []
    for feat in geo["features"]:
        g = feat["geometry"]
        offsets = g["encodeOffsets"]
        if g["type"] == "Polygon":
            coords: list[Any] = [_decode_ring(r, o, scale).tolist()
                                 for r, o in zip(g["coordinates"], offsets, strict=True)]
        elif g["type"] == "MultiPolygon":
            coords = [[_decode_ring(r, o, scale).tolist() for r, o in zip(poly, offs,
                                                                           strict=True)]
                      for poly, offs in zip(g["coordinates"], offsets, strict=True)]
        else:
            raise ValueError(f"geometry type {g['type']!r} is not a polygon")
        features.append({"type": "Feature", "properties": dict(feat["properties"]),
                         "geometry": {"type": g["type"], "coordinates": coords}})
    return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=1)
def province_rings() -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    """Each province-level division's name and outer rings (``(n, 2)`` lon, lat)."""
    geo = decode_echarts(json.loads(CHINA_JSON.read_text(encoding="utf-8")))
    out = []
    for feat in geo["features"]:
        g = feat["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        out.append((str(feat["properties"]["name"]),
                    tuple(np.asarray(p[0], dtype=float) for p in polys if p)))
    return tuple(out)


def inside_china(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Whether each point lies inside a province's outline (matplotlib's point-in-polygon)."""
    from matplotlib.path import Path as Polygon

    pts = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
    inside = np.zeros(len(pts), dtype=bool)
    for _, rings in province_rings():
        for ring in rings:
            inside |= Polygon(ring).contains_points(pts)
    return inside


@lru_cache(maxsize=1)
def _outline_xy() -> tuple[list[float | None], list[float | None]]:
    """Every outer ring, rounded to :data:`_DIGITS` with repeated points dropped, joined
    with ``None`` breaks (one line trace)."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    for _, rings in province_rings():
        for ring in rings:
            r = np.round(ring, _DIGITS)
            keep = np.r_[True, np.any(np.diff(r, axis=0) != 0, axis=1)]
            r = r[keep]
            lon += [*r[:, 0].tolist(), None]
            lat += [*r[:, 1].tolist(), None]
    return lon, lat


def outline_trace() -> go.Scattergeo:
    """The provinces' outlines as one thin grey line trace (no hover, no legend)."""
    lon, lat = _outline_xy()
    return go.Scattergeo(lon=lon, lat=lat, mode="lines", hoverinfo="skip", showlegend=False,
                         name="provinces", line={"width": 0.6, "color": "#adb5bd"})


def with_outlines(lat: np.ndarray, lon: np.ndarray) -> bool:
    """Whether a map of these points gets China's outlines: most of them lie inside."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    return bool(ok.any()) and float(inside_china(lat[ok], lon[ok]).mean()) >= 0.5


def geo_axes(f: go.Figure, lat: np.ndarray, lon: np.ndarray, china: bool) -> None:
    """A Mercator graticule over China (``china``), else fitted to the points; no
    coastlines, borders or land from plotly.js (it would fetch them from a CDN, and the
    report opens offline)."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    lat_lo, lat_hi = float(np.nanmin(lat)), float(np.nanmax(lat))
    lon_lo, lon_hi = float(np.nanmin(lon)), float(np.nanmax(lon))
    if china:
        lat_r = [min(lat_lo, 18.0) - 2, max(lat_hi, 54.0) + 2]
        lon_r = [min(lon_lo, 73.0) - 2, max(lon_hi, 135.0) + 2]
    else:
        pad_lat = max(0.5, 0.15 * (lat_hi - lat_lo))
        pad_lon = max(0.5, 0.15 * (lon_hi - lon_lo))
        lat_r = [lat_lo - pad_lat, lat_hi + pad_lat]
        lon_r = [lon_lo - pad_lon, lon_hi + pad_lon]
    dtick = 5 if china or max(lat_r[1] - lat_r[0], lon_r[1] - lon_r[0]) > 15 else 1
    f.update_geos(
        projection_type="mercator",
        showcoastlines=False, showcountries=False, showland=False, showocean=False,
        showlakes=False, showrivers=False, showsubunits=False, showframe=True,
        lataxis={"range": lat_r, "showgrid": True, "dtick": dtick, "gridcolor": "#dee2e6"},
        lonaxis={"range": lon_r, "showgrid": True, "dtick": dtick, "gridcolor": "#dee2e6"},
        bgcolor="#fbfcfd",
    )
