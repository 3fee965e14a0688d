"""An independent check of robot paths: no shared cell, no swap, only legal moves."""

from __future__ import annotations

import numpy as np

from forestock.sortation._errors import PathError
from forestock.sortation._maps import GridMap

__all__ = ["find_conflicts", "validate_paths"]

_DR = np.array([0, 1, 0, -1])
_DC = np.array([1, 0, -1, 0])


def find_conflicts(grid: GridMap, positions: np.ndarray, headings: np.ndarray | None = None,
                   limit: int | None = None, lanes: np.ndarray | None = None
                   ) -> list[PathError]:
    """Every broken rule in the paths, in step order (at most ``limit``).

    Parameters
    ----------
    grid
        The map.
    positions
        ``int`` [steps + 1, robots]: each robot's cell after each step (row 0:
        the start).
    headings
        ``int`` [steps + 1, robots] headings (0 east, 1 south, 2 west, 3
        north) under the rotation model: a robot either moves one cell
        along its heading, or stays and turns by at most 90 degrees. ``None``
        for the four-neighbour model: a robot moves to a neighbour or stays.
    limit
        Stop after this many conflicts.
    lanes
        ``uint8`` [cells] one-way lanes (bit ``d``: a move out of the cell in
        direction ``d`` is allowed), or ``None``.

    Returns
    -------
    list of PathError
        Not raised: one per conflict (a vertex conflict names two robots).
    """
    pos = np.asarray(positions)  # rows are widened one at a time: no int64 copy of the run
    if pos.ndim != 2 or pos.shape[0] < 1:
        raise ValueError(f"positions must be [steps + 1, robots], got shape {pos.shape}")
    hd = None if headings is None else np.asarray(headings)
    if hd is not None and hd.shape != pos.shape:
        raise ValueError(f"headings has shape {hd.shape}, positions {pos.shape}")
    free = grid.free
    w = grid.width
    found: list[PathError] = []

    def full() -> bool:
        return limit is not None and len(found) >= limit

    prev = cur = np.empty(0, dtype=np.int64)
    h0 = h1 = np.empty(0, dtype=np.int64)
    for t in range(pos.shape[0]):
        prev, cur = cur, pos[t].astype(np.int64)
        if hd is not None:
            h0, h1 = h1, hd[t].astype(np.int64)
        off = (cur < 0) | (cur >= grid.size)
        bad = off.copy()
        bad[~off] = ~free[cur[~off]]
        for a in np.flatnonzero(bad):
            found.append(PathError("obstacle", t, (int(a),), int(cur[a]),
                                   "off the map" if off[a] else "an obstacle"))
        if hd is not None:
            wrong = (h1 < 0) | (h1 > 3)
            for a in np.flatnonzero(wrong):
                found.append(PathError("heading", t, (int(a),), int(cur[a]),
                                       f"heading {h1[a]} is not 0..3"))
        order = np.argsort(cur, kind="stable")
        s = cur[order]
        dup = np.flatnonzero(s[1:] == s[:-1])
        for k in dup:
            found.append(PathError("vertex", t, (int(order[k]), int(order[k + 1])), int(s[k])))
        if full():
            return found[:limit]
        if t == 0:
            continue
        moved = np.flatnonzero(cur != prev)
        pr, pc = np.divmod(prev[moved], w)
        cr, cc = np.divmod(cur[moved], w)
        step_len = np.abs(pr - cr) + np.abs(pc - cc)
        for k in np.flatnonzero(step_len != 1):
            j = int(moved[k])
            found.append(PathError("jump", t, (j,), int(cur[j]),
                                   f"from cell {prev[j]} to a non-neighbour"))
        if lanes is not None:
            d = np.select([cc > pc, cr > pr, cc < pc], [0, 1, 2], 3)
            ok = (np.asarray(lanes)[prev[moved]].astype(np.int64) >> d) & 1
            for k in np.flatnonzero((ok == 0) & (step_len == 1)):
                j = int(moved[k])
                found.append(PathError("lane", t, (j,), int(cur[j]),
                                       f"moved {'ESWN'[d[k]]} out of cell {prev[j]}, against "
                                       f"its one-way lane"))
        if hd is not None:
            mh = h0[moved]
            ahead = (pr + _DR[mh % 4] == cr) & (pc + _DC[mh % 4] == cc)
            for k in np.flatnonzero(~ahead & (step_len == 1)):
                j = int(moved[k])
                found.append(PathError("heading", t, (j,), int(cur[j]),
                                       f"moved from cell {prev[j]} against its heading "
                                       f"{'ESWN'[h0[j] % 4]}"))
            turn = (h1 - h0) % 4
            still = cur == prev
            for a in np.flatnonzero((~still & (turn != 0)) | (still & (turn == 2))):
                found.append(PathError("turn", t, (int(a),), int(cur[a]),
                                       f"heading {'ESWN'[h0[a] % 4]} to {'ESWN'[h1[a] % 4]}"
                                       + (" while moving" if not still[a] else "")))
        if moved.size > 1:
            size = np.int64(grid.size) + 1
            there = prev[moved] * size + cur[moved]
            back = cur[moved] * size + prev[moved]
            hit = np.isin(there, back)
            for k in np.flatnonzero(hit):
                j = int(moved[k])
                other = int(moved[back == there[k]][0])
                if j < other:
                    found.append(PathError("swap", t, (j, other), int(cur[j]),
                                           f"cells {prev[j]} and {cur[j]}"))
        if full():
            return found[:limit]
    return found


def validate_paths(grid: GridMap, positions: np.ndarray,
                   headings: np.ndarray | None = None, lanes: np.ndarray | None = None) -> None:
    """Raise :class:`PathError` on the first broken rule (see :func:`find_conflicts`)."""
    found = find_conflicts(grid, positions, headings, limit=1, lanes=lanes)
    if found:
        raise found[0]
