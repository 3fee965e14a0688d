"""Grid maps in the MovingAI / League of Robot Runners format.

A map file reads::

    type octile
    height H
    width W
    map
    <H rows of W characters>

``@``, ``O``, ``T`` and ``W`` are obstacles; ``.``, ``G``, ``E`` (emitter,
an induction station in forestock's centres) and ``S`` (service point, a
chute's drop cell) are free. A cell's index is ``row * W + col``; row 0 is
the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forestock.sortation._errors import MapError

__all__ = ["DIRECTIONS", "FREE", "OBSTACLE", "GridMap", "parse_map", "read_map"]

FREE = ".GES"
"""Characters of free cells."""
OBSTACLE = "@OTW"
"""Characters of obstacle cells."""
DIRECTIONS = "ESWN"
"""Headings in clockwise order: a clockwise turn adds 1 (mod 4)."""
_DR = np.array([0, 1, 0, -1])
_DC = np.array([1, 0, -1, 0])


@dataclass(frozen=True)
class GridMap:
    """A 4-connected grid.

    Parameters
    ----------
    name
        Where the map came from (a file name, or a generator's label).
    height, width
        Size in cells.
    chars
        ``uint8`` [height * width]: the map's character of each cell.
    """

    name: str
    height: int
    width: int
    chars: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"a map needs height and width >= 1, got {self.height}x{self.width}")
        if self.chars.shape != (self.height * self.width,):
            raise ValueError(f"chars has shape {self.chars.shape}, expected "
                             f"({self.height * self.width},)")

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.height * self.width

    @property
    def free(self) -> np.ndarray:
        """``bool`` [cells]: true where a robot may stand."""
        return np.isin(self.chars, np.frombuffer(FREE.encode(), dtype=np.uint8))

    def cells_of(self, char: str) -> np.ndarray:
        """Indices of the cells marked ``char`` (``"E"``, ``"S"``...), ascending."""
        return np.flatnonzero(self.chars == ord(char)).astype(np.int32)

    def neighbours(self) -> np.ndarray:
        """``int32`` [cells, 4]: the free neighbour east, south, west, north, or -1."""
        r, c = np.divmod(np.arange(self.size), self.width)
        free = self.free
        out = np.full((self.size, 4), -1, dtype=np.int32)
        for d in range(4):
            rr, cc = r + _DR[d], c + _DC[d]
            ok = (rr >= 0) & (rr < self.height) & (cc >= 0) & (cc < self.width) & free
            nb = np.where(ok, rr * self.width + cc, 0)
            ok &= free[nb]
            out[ok, d] = nb[ok]
        return out

    def text(self) -> str:
        """The map in file format."""
        rows = self.chars.reshape(self.height, self.width)
        body = "\n".join(bytes(row).decode("ascii") for row in rows)
        return f"type octile\nheight {self.height}\nwidth {self.width}\nmap\n{body}\n"


def parse_map(text: str, name: str = "<map>") -> GridMap:
    """Parse a map from its text; raise :class:`MapError` naming the line and column."""
    lines = text.splitlines()
    header: dict[str, str] = {}
    i = 0
    while i < len(lines) and lines[i].strip().lower() != "map":
        parts = lines[i].split()
        if parts:
            if len(parts) != 2 or parts[0].lower() not in ("type", "height", "width"):
                raise MapError(name, i + 1, 0, f"expected 'type', 'height', 'width' or 'map', "
                                               f"got {lines[i]!r}")
            header[parts[0].lower()] = parts[1]
        i += 1
    if i == len(lines):
        raise MapError(name, i, 0, "no 'map' line")
    dims = {}
    for key in ("height", "width"):
        if key not in header:
            raise MapError(name, i + 1, 0, f"the header has no {key!r} line")
        try:
            dims[key] = int(header[key])
        except ValueError:
            raise MapError(name, 0, 0, f"{key} {header[key]!r} is not an integer") from None
        if dims[key] < 1:
            raise MapError(name, 0, 0, f"{key} must be >= 1, got {dims[key]}")
    h, w = dims["height"], dims["width"]
    rows = [ln.rstrip("\r\n") for ln in lines[i + 1:]]
    while rows and not rows[-1].strip():
        rows.pop()
    if len(rows) != h:
        raise MapError(name, i + 1 + len(rows), 0, f"height {h} but {len(rows)} map rows")
    known = set(FREE + OBSTACLE)
    for r, row in enumerate(rows):
        if len(row) != w:
            raise MapError(name, i + 2 + r, 0, f"width {w} but the row has {len(row)} characters")
        bad = next((c for c, ch in enumerate(row) if ch not in known), None)
        if bad is not None:
            raise MapError(name, i + 2 + r, bad + 1,
                           f"unknown character {row[bad]!r} (free: {FREE!r}, obstacles: "
                           f"{OBSTACLE!r})")
    chars = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8).copy()
    return GridMap(name, h, w, chars)


def read_map(path: str | Path) -> GridMap:
    """Read a ``.map`` file; raise :class:`MapError` on bad content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise MapError(str(p), 0, 0, "no such file") from None
    except UnicodeDecodeError as err:
        raise MapError(str(p), 0, 0, f"not an ASCII map ({err.reason} at byte {err.start})"
                       ) from None
    return parse_map(text, p.name)
