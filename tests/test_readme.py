"""The README's Python examples run as written."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from forestock import ForestockWarning

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"),
                    flags=re.MULTILINE | re.DOTALL)


def test_the_readme_has_python_examples() -> None:
    """The README shows the flow in Python (its API section opens with an example)."""
    assert BLOCKS, "no ```python block in README.md"
    api = README.read_text(encoding="utf-8").split("## The Python API", 1)[1]
    assert api.lstrip().split("```", 1)[1].startswith("python\n")


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Each ```python block runs in a fresh folder, prints, and writes what it says."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        # forestock's own warnings (past-due notices on a small world) are what a reader
        # sees too; any other warning fails the test, as everywhere
        warnings.simplefilter("ignore", ForestockWarning)
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.strip()
    for name in re.findall(r'"([\w.-]+\.html)"', code):
        assert (tmp_path / name).stat().st_size > 0, name
