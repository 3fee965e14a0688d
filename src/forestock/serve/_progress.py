"""The progress file a live rehearsal appends to, one JSON record a line.

The first record (``"type": "day"``) names the day's regions, warehouses and
brands; one ``"chunk"`` record follows per chunk of orders settled, holding
the day so far; an ``"end"`` record closes a finished rehearsal. A new run
starts a new file (written aside and renamed into place); each record is then
appended by one ``write`` of a whole line, so a reader sees whole records and
at most a trailing part line (a run killed mid-write), which it leaves alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forestock.errors import ForestockError

log = logging.getLogger("forestock.serve")

PROGRESS_FILE = Path("progress") / "simulate.jsonl"
"""Where, inside a workspace, a live rehearsal writes its progress."""


def progress_path(workspace: str | Path) -> Path:
    """The progress file of ``workspace``."""
    return Path(workspace) / PROGRESS_FILE


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@dataclass
class ProgressReader:
    """Reads the whole records a progress file holds, and those appended since.

    :meth:`poll` returns the new records; if the file was replaced by another
    run's, ``reset`` is set and the records are the new run's from its start.
    """

    path: Path
    offset: int = 0
    inode: int | None = None
    run: str | None = None
    reset: bool = False
    tail: bytes = field(default=b"", repr=False)

    def poll(self) -> list[dict[str, Any]]:
        self.reset = False
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if st.st_ino != self.inode or st.st_size < self.offset:
            self.reset = self.inode is not None
            self.inode, self.offset, self.tail = st.st_ino, 0, b""
        if st.st_size == self.offset:
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read(st.st_size - self.offset)
        self.offset += len(data)
        data = self.tail + data
        cut = data.rfind(b"\n") + 1
        self.tail = data[cut:]
        records = []
        for n, line in enumerate(data[:cut].splitlines()):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise ForestockError(f"{self.path}: record {n + 1} after byte "
                                     f"{self.offset - len(data)} is not JSON ({exc})") from exc
        if records and records[0].get("type") == "day":
            self.run = records[0].get("run")
        return records
