"""Loading stage parameters from TOML files."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any


def toml_fields(path: str | Path, section: str, cls: type) -> dict[str, Any]:
    """The ``[section]`` table of a TOML file (or its top-level keys) as keyword arguments
    of the dataclass ``cls``; lists become tuples. Unknown keys raise ``ValueError``."""
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    data = data.get(section, data)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{path}: unknown {section} parameter(s) {', '.join(unknown)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
