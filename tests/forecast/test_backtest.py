"""Backtests over rolling origins: the windows, the per-origin scores and their mean, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.cli import main
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast import (
    ForecastParams,
    backtest,
    backtest_origins,
    holdout_windows,
    rolling_windows,
)
from forestock.forecast._metrics import score
from forestock.forecast._panel import build_panel, period_index, window_periods
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world

EVENT = "추석 세일"
FAST = ForecastParams(rounds=40)


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_holdout_windows_are_the_last_k_occurrences_with_history_before() -> None:
    """The last k occurrences inside the history, oldest first; one without history before
    it is skipped; asking for more than there are is refused."""
    cal = pd.DataFrame({"date": pd.to_datetime([f"{y}-11-11" for y in range(2022, 2028)]),
                        "event": "11.11"})
    start, end = _d("2022-10-20"), _d("2026-12-31")
    got = holdout_windows(cal, "11.11", end, start, 30, 3)
    assert [w.start for w in got] == [_d("2024-11-11"), _d("2025-11-11"), _d("2026-11-11")]
    assert all(w.start - dt.timedelta(days=30) > start and w.end <= end for w in got)
    assert len(holdout_windows(cal, "11.11", end, start, 30, 4)) == 4  # 2022 lacks history
    with pytest.raises(ForestockError, match="only 4 occurrence"):
        holdout_windows(cal, "11.11", end, start, 30, 5)


@pytest.mark.parametrize(
    ("window", "k", "step", "freq", "starts"),
    [
        (("2017-07-01", "2017-12-01"), 3, None, "M", ["2016-07-01", "2017-01-01", "2017-07-01"]),
        (("2017-07-01", "2017-12-01"), 2, 1, "M", ["2017-06-01", "2017-07-01"]),
        (("2026-08-01", "2026-08-14"), 2, None, "D", ["2026-07-18", "2026-08-01"]),
        (("2026-08-03", "2026-08-24"), 2, 2, "W", ["2026-07-20", "2026-08-03"]),
    ],
)
def test_rolling_windows_step_back_a_window_of_the_same_length(
    window: tuple[str, str], k: int, step: int | None, freq: str, starts: list[str]
) -> None:
    """k windows of the window's length, oldest first, ``step`` periods (default: the
    length) apart, the last being the window itself."""
    w = Window("custom", _d(window[0]), _d(window[1]))
    got = rolling_windows(w, k, step, freq)
    assert [x.start for x in got] == [_d(s) for s in starts]
    assert got[-1] == w
    periods = {int(period_index(pd.DatetimeIndex([pd.Timestamp(x.end)]),
                                pd.Timestamp(x.start), freq)[0]) for x in got}
    assert len(periods) == 1


def test_two_origins_are_scored_and_averaged(tiny: dict[str, pd.DataFrame]) -> None:
    """With two held-out occurrences each method has two origins, and its mean row is the
    mean of the two, score by score."""
    hist = pd.concat([tiny["history"], tiny["truth"]], ignore_index=True)
    h = pd.to_datetime(hist["date"])
    windows = holdout_windows(tiny["calendar"], EVENT, h.max().date(), h.min().date(), 1, 2)
    r = backtest_origins(hist, tiny["calendar"], windows, 1, tiny["skus"], tiny["regions"],
                         methods=["forestock", "seasonal_naive"], params=FAST)
    assert [o.window.start for o in r.origins] == [_d("2025-09-01"), _d("2026-09-01")]
    single = backtest(hist, tiny["calendar"], windows[-1], 1, tiny["skus"], tiny["regions"],
                      methods=["seasonal_naive"], params=FAST)
    assert r.origins[-1].scores["seasonal_naive"] == single.scores["seasonal_naive"]
    t = r.table()
    assert t["origin"].tolist() == ["2025-09-01..2025-09-21", "2026-09-01..2026-09-21",
                                    "mean"] * 2
    mean = r.mean()
    for name in ("forestock", "seasonal_naive"):
        for key in ("wrmsse", "rmsse_sku_region", "wape_total", "bias", "coverage",
                    "above_q90", "below_q10"):
            two = [float(o.scores[name][key]) for o in r.origins]  # type: ignore[arg-type]
            assert mean[name][key] == pytest.approx(np.mean(two))
            assert t.loc[(t["method"] == name) & (t["origin"] == "mean"), key].item() \
                == pytest.approx(np.mean(two))


def test_origins_without_history_are_refused_before_any_run(
    tiny: dict[str, pd.DataFrame],
) -> None:
    """A window before the history's start or past its end is named, nothing is run."""
    late = Window("custom", _d("2026-09-01"), _d("2026-09-30"))
    with pytest.raises(ForestockError, match=r"origin 2 .* ends after the history"):
        backtest_origins(tiny["history"], tiny["calendar"],
                         [Window("custom", _d("2026-06-01"), _d("2026-06-30")), late], 1)
    with pytest.raises(ForestockError, match=r"origin 1 .* no history to learn from"):
        backtest_origins(tiny["history"], tiny["calendar"],
                         [Window("custom", _d("2025-01-02"), _d("2025-01-08"))], 7)


def test_cli_backtest_with_two_origins(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock backtest --origins 2` on a tiny world exits 0 and shows both 11.11s and
    their mean, in tables and in JSON."""
    ws = tmp_path / "ws"
    build_world(Workspace(ws), WorldParams(seed=0, skus=10, regions=31, history_days=800))
    args = ["backtest", "-w", str(ws), "--origins", "2", "--methods", "seasonal_naive"]
    capsys.readouterr()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2025-11-11" in text and "2026-11-11" in text and "mean" in text
    assert main([*args, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert [o["window"][0] for o in facts["origins"]] == ["2025-11-11", "2026-11-11"]
    assert [row["origin"] for row in facts["methods"]] == ["2025-11-11", "2026-11-11", "mean"]
    assert main([*args[:3], "--origins", "3", "--methods", "seasonal_naive"]) == 2


def test_above_q90_and_below_q10_on_a_hand_made_forecast() -> None:
    """Shares of the cells of series that sold in the history above q90 and below q10; an
    actual 0 with q10 0 is covered, and a series that never sold is left out."""
    history = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03",
                                                    "2026-01-04", "2026-01-05"] * 2),
                            "sku_id": ["S1"] * 5 + ["S2"] * 5, "region_id": "R1",
                            "units": [3, 4, 2, 5, 4, 1, 0, 2, 1, 1]})
    window = Window("custom", _d("2026-01-06"), _d("2026-01-07"))
    cal = pd.DataFrame({"date": pd.to_datetime([]), "event": pd.Series([], dtype=object)})
    panel = build_panel(history, cal, window, np.array(["S1", "S2", "S3"], dtype=object),
                        np.array(["R1"], dtype=object))
    periods = window_periods(panel, window)
    fc = pd.DataFrame({"sku_id": ["S1", "S1", "S2", "S2", "S3", "S3"], "region_id": "R1",
                       "date": pd.to_datetime(["2026-01-06", "2026-01-07"] * 3),
                       "q10": [2.0, 2.0, 0.0, 2.0, 0.0, 0.0],
                       "q90": [8.0, 8.0, 3.0, 6.0, 0.0, 0.0]})
    fc["mean"] = fc["q50"] = (fc["q10"] + fc["q90"]) / 2
    actual = np.array([[10.0, 5.0],   # S1: above q90, inside
                       [0.0, 1.0],    # S2: 0 with q10 0 (covered), below q10
                       [5.0, 5.0]])   # S3 never sold: left out
    s = score(panel, periods, fc, actual)
    assert s["above_q90"] == 0.25
    assert s["below_q10"] == 0.25
