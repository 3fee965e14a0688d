"""The hub's mode is a string enum; the status JSON says its value as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forestock.serve._hub import Hub, HubMode


def test_hub_waits_for_a_rehearsal(tmp_path: Path) -> None:
    """Before any progress file, the hub waits: its status says ``waiting`` as plain JSON
    text, and replay controls are refused naming the mode."""
    hub = Hub(tmp_path / "progress.jsonl")
    hub.poll()
    assert hub.mode is HubMode.WAITING
    status = hub.status()
    assert json.loads(json.dumps(status))["mode"] == "waiting"
    assert type(status["mode"]) is str and status["state"] == "waiting"
    with pytest.raises(ValueError, match="the rehearsal is waiting"):
        hub.control("pause")


def test_modes_keep_their_values() -> None:
    """The values the dashboard's page reads are unchanged."""
    assert [m.value for m in HubMode] == ["waiting", "live", "replay"]
