"""The progress file: whole records, a reader that follows it, and the timeline's frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forestock.errors import ForestockError
from forestock.serve import ProgressReader, ServeParams, Timeline, map_names, progress_path
from forestock.serve._timeline import map_name


def header(**extra: object) -> dict[str, object]:
    """A day record of two regions (one off the map), two warehouses and two brands."""
    return {"type": "day", "day": "2027-11-11", "run": "r1", "total_orders": 100,
            "expected_source": "rehearsal", "expected_per_minute": [60.0] * 1440,
            "regions": [{"id": "130100", "name": "石家庄市", "province": "河北省"},
                        {"id": "KR-11", "name": "서울", "province": "서울특별시"}],
            "warehouses": [{"id": "W1", "name": "北京 RDC", "capacity": 100},
                           {"id": "W2", "name": "上海 RDC", "capacity": 50}],
            "brands": [{"id": "B1", "name": "Tianyuan", "country": "CN"},
                       {"id": "B2", "name": "Peakcrest", "country": "US"}], **extra}


def chunk(s0: int, s1: int, brand_gmv: list[float], backlog: list[int],
          units: list[int], d24: list[int], stockouts: list[list[str]] | None = None
          ) -> dict[str, object]:
    """A chunk record with 60 orders and CNY 6,000 in each of its minutes."""
    m0, m1 = s0 // 60, (s1 - 1) // 60 + 1
    return {"type": "chunk", "s0": s0, "s1": s1, "t": 0.0, "orders": s1, "units": s1,
            "gmv": 100.0 * s1, "minute0": m0, "minute_orders": [60] * (m1 - m0),
            "minute_gmv": [6000.0] * (m1 - m0), "region_units": units, "region_d24": d24,
            "region_unfilled": [0, 0], "backlog": backlog, "brand_gmv": brand_gmv,
            "stockouts": stockouts or [], "stockouts_total": len(stockouts or [])}


def test_reader_takes_whole_lines_and_follows_a_new_run(tmp_path: Path) -> None:
    """A trailing part line waits for its end; a file replaced by another run's is read
    from its start with ``reset`` set."""
    path = tmp_path / "p.jsonl"
    first = json.dumps(header()) + "\n"
    path.write_text(first + '{"type": "end"')
    reader = ProgressReader(path)
    assert [r["type"] for r in reader.poll()] == ["day"]
    assert reader.poll() == []
    with path.open("a") as f:
        f.write(', "t": 1}\n')
    assert [r["type"] for r in reader.poll()] == ["end"]
    other = tmp_path / "q.jsonl"
    other.write_text(json.dumps(header(run="r2")) + "\n")
    other.replace(path)
    assert [r["run"] for r in reader.poll()] == ["r2"] and reader.reset


def test_reader_names_a_broken_record(tmp_path: Path) -> None:
    """A line that is not JSON stops the reader with the file named."""
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(header()) + "\nnot json\n")
    with pytest.raises(ForestockError, match=r"p\.jsonl: record 2"):
        ProgressReader(path).poll()


def test_map_names_match_provinces() -> None:
    """Every province of the embedded world has its outline on the vendored map."""
    names = map_names()
    assert len(names) == 34
    assert map_name("内蒙古自治区", names) == "内蒙古"
    assert map_name("黑龙江省", names) == "黑龙江"
    assert map_name("서울특별시", names) is None


def test_timeline_frames_alerts_and_milestones() -> None:
    """Frames step with the chunks; GMV is read off the minute series between them; a backlog
    above N hours, a region behind its promise and a stockout raise one alert each when they
    begin; brands crossing CNY 100 million and 1 billion are marked from that chunk on."""
    tl = Timeline(header(), ServeParams(backlog_hours=2.0, promise_share=0.8, min_units=10),
                  map_names())
    tl.add(chunk(0, 600, [5e7, 1e6], [100, 0], [20, 5], [19, 5]))
    tl.add(chunk(600, 1200, [2e8, 1e6], [300, 0], [40, 9], [30, 9], [["S1", "W2"]]))
    tl.add(chunk(1200, 1800, [1.2e9, 2e6], [500, 0], [60, 12], [40, 12]))
    tl.add({"type": "end"})
    f = tl.frame(1200)
    assert f["gmv"] == pytest.approx(1200 * 100.0) and f["orders"] == 1200
    assert f["orders_per_second"] == pytest.approx(1.0)
    assert f["expected_orders_per_second"] == pytest.approx(1.0)
    assert f["provinces"] == [["河北", 0.75, 40]] and f["off_map"] == 1
    assert f["brands"][0][:5] == [1, "Tianyuan", "CN", 2e8, 1]
    assert f["above_100m"] == 1 and f["above_1b"] == 0
    assert [a[1] for a in f["alerts"]] == ["promise", "backlog", "stockout"]
    assert "3.0 h" in f["alerts"][1][2]
    assert "上海 RDC (W2)" in f["alerts"][2][2]
    assert tl.frame(900)["provinces"] == [["河北", 0.95, 20]]
    assert tl.frame(1800)["above_1b"] == 1
    assert tl.frame(300)["alerts"] == [] and tl.frame(300)["brands"] == []
    assert len(tl.frame(1800, series_from=10)["gmv_ps"]) == 21
    assert "expected_ps" not in tl.frame(1800, series_from=10)


def test_serve_params_refuse_exposure_without_token() -> None:
    """Binding beyond loopback without a token, or a bad value, is refused by name."""
    with pytest.raises(ValueError, match="needs a token"):
        ServeParams(host="0.0.0.0")
    assert ServeParams(host="0.0.0.0", token="s3cret-token").token == "s3cret-token"
    with pytest.raises(ValueError, match="tick"):
        ServeParams(tick=5.0)


def test_simulate_live_writes_the_progress_file(china_ws: Path) -> None:
    """`simulate --live` writes a day record, chunks that tile the day up to the rehearsal's
    totals, stockouts, and an end record."""
    lines = progress_path(china_ws).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0]["type"] == "day" and records[-1]["type"] == "end"
    chunks = records[1:-1]
    assert [c["s0"] for c in chunks[1:]] == [c["s1"] for c in chunks[:-1]]
    assert chunks[-1]["s1"] == 86_400
    assert sum(c["stockouts_total"] for c in chunks) > 0
    facts = json.loads((china_ws / "forestock.json").read_text())["simulate"]
    assert chunks[-1]["orders"] == facts["orders"]
    assert chunks[-1]["gmv"] == pytest.approx(facts["gmv"])
