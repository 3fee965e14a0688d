"""PNG figures: the congestion heat map and throughput against fleet size (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forestock.sortation._maps import GridMap

__all__ = ["congestion_png", "fleet_curve_png"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - an optional extra
        raise ImportError("figures need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def congestion_png(grid: GridMap, waits: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Write a heat map of robot-steps spent waiting per cell (obstacles dark)."""
    plt = _pyplot()
    img = np.where(grid.free, waits, np.nan).astype(float).reshape(grid.height, grid.width)
    fig, ax = plt.subplots(figsize=(min(16, 2 + grid.width / 12), min(10, 1.5 + grid.height / 12)))
    ax.set_facecolor("#202020")
    im = ax.imshow(img, cmap="magma_r", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="robot-steps waiting")
    ax.set_title(title or f"Where robots wait: {grid.name}")
    ax.set_xticks([])
    ax.set_yticks([])
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out


def fleet_curve_png(curve: pd.DataFrame, target: float, path: str | Path, title: str = "") -> Path:
    """Write parcels per hour against robots, with the target as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(curve["robots"], curve["parcels_per_hour"], "o-", label="parcels per hour")
    ax.axhline(target, color="crimson", ls="--", label=f"peak hour: {target:,.0f}")
    ax.set_xlabel("robots")
    ax.set_ylabel("parcels sorted per hour")
    ax.set_title(title or "Throughput against fleet size")
    ax.legend()
    ax.grid(alpha=0.3)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out
