"""Tests of forestock.params: the one base of every stage's parameters."""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import forestock
from forestock.network import NetworkParams
from forestock.params import OneOf, Params, Within, one_of, within
from forestock.plan import PlanParams
from forestock.sortation._layout import CentreParams
from forestock.sortation._sizing import SizingParams
from forestock.world import WorldParams


def _all_params() -> list[type[Params]]:
    for m in pkgutil.walk_packages(forestock.__path__, "forestock."):
        importlib.import_module(m.name)
    out, todo = [], list(Params.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return sorted(out, key=lambda c: c.__name__)


PARAMS = _all_params()


def test_every_params_class_derives_from_the_base() -> None:
    """Every ``*Params`` class of the package is a Params, with a section of its own."""
    names = {c.__name__ for c in PARAMS}
    assert {"CentreParams", "ForecastParams", "InsightsParams", "PlanParams", "SortationParams",
            "ServeParams", "SimulateParams", "SizingParams", "WorldParams"} <= names
    sections = [c.section for c in PARAMS]
    assert all(sections) and len(set(sections)) == len(sections)


@pytest.mark.parametrize("cls", PARAMS, ids=lambda c: c.__name__)
def test_checks_name_real_fields_and_defaults_pass(cls: type[Params]) -> None:
    """Each rule names fields of its class, and the defaults meet every rule."""
    fields = {f.name for f in dataclasses.fields(cls)}
    for rule in cls.checks:
        assert set(rule.names) <= fields, rule.names
    cls()


def _outside(rule: Within) -> list[object]:
    """Values that break ``rule``: past each end, NaN, a bool, a string, None where not
    optional, a float where an integer is asked."""
    bad: list[object] = [math.nan, True, "1"]
    if not rule.optional:
        bad.append(None)
    if rule.integer:
        bad.append(2.0)
    for end, is_open, sign in ((rule.low, rule.low_open, -1), (rule.high, rule.high_open, 1)):
        if math.isinf(end):
            if is_open:
                bad.append(end)
        elif rule.integer:
            bad.append(int(end) if is_open else int(end) + sign)
        else:
            bad.append(end if is_open else end + sign * 1e-9 * max(1.0, abs(end)))
    return bad


CASES = [(cls, name, value)
         for cls in PARAMS for rule in cls.checks if isinstance(rule, Within)
         for name in rule.names for value in _outside(rule)]


@pytest.mark.parametrize(("cls", "name", "value"), CASES,
                         ids=[f"{c.__name__}.{n}={v!r}" for c, n, v in CASES])
def test_values_outside_a_rule_are_refused(cls: type[Params], name: str, value: object) -> None:
    """A value past an end of its interval (or NaN, a bool, a string, a float for an integer,
    None where not optional) raises ValueError naming the field."""
    with pytest.raises(ValueError, match=f"^{name}="):
        cls(**{name: value})


@pytest.mark.parametrize("cls", PARAMS, ids=lambda c: c.__name__)
def test_choices_outside_are_refused(cls: type[Params]) -> None:
    """A value that is none of a field's choices raises ValueError naming the field."""
    for rule in cls.checks:
        if isinstance(rule, OneOf):
            for name in rule.names:
                with pytest.raises(ValueError, match=f"^{name}='nowhere' is invalid: must be "
                                                     "one of"):
                    cls(**{name: "nowhere"})


@pytest.mark.parametrize(
    ("interval", "inside", "outside"),
    [
        ("[0, 1)", [0, 0.5, 0.999], [-0.001, 1, math.inf]),
        ("(0, inf)", [1e-12, 1e300], [0, -1, math.inf]),
        ("(0, inf]", [1e-12, math.inf], [0, -math.inf]),
        ("[-inf, inf]", [-math.inf, 0, math.inf], [math.nan]),
        ("[1_000, 2_000]", [1000, 2000], [999, 2001]),
    ],
)
def test_within_reads_intervals(interval: str, inside: list[float],
                                outside: list[float]) -> None:
    """Square brackets include an end, round ones exclude it; inf may be admitted."""
    rule = within(interval, "x")
    assert all(rule.ok(v) for v in inside)
    assert not any(rule.ok(v) for v in outside)


def test_within_integers_and_none() -> None:
    """``integer`` admits integers of any type but bool; ``optional`` admits None."""
    rule = within("[1, inf)", "n", integer=True, optional=True)
    assert rule.ok(3) and rule.ok(np.int64(3)) and rule.ok(None)
    assert not rule.ok(3.0) and not rule.ok(True) and not rule.ok(0)
    assert rule.need() == "an integer >= 1 or None"
    assert within("[0, 10_000_000]", "n").need() == "a number in [0, 10,000,000]"


@pytest.mark.parametrize("interval", ["0, 1", "[1, 0]", "[0; 1]", "[a, 1]", "[nan, 1]"])
def test_within_refuses_bad_intervals(interval: str) -> None:
    """A malformed or empty interval is a ValueError naming it."""
    with pytest.raises(ValueError, match="interval"):
        within(interval, "x")


def test_one_of_reads_a_mapping_live() -> None:
    """A mapping's keys are the choices, read at each check (a policy added later counts)."""
    policies = {"nearest": 1}
    rule = one_of(policies, "policy")
    assert rule.ok("nearest") and not rule.ok("cheapest") and not rule.ok(["unhashable"])
    policies["cheapest"] = 2
    assert rule.ok("cheapest")


def test_replace_is_checked() -> None:
    """replace returns a new instance of the same class, checked like any other."""
    p = PlanParams()
    q = p.replace(scenarios=4)
    assert type(q) is PlanParams and q.scenarios == 4 and p.scenarios == 8
    with pytest.raises(ValueError, match="scenarios"):
        p.replace(scenarios=0)


def test_validate_ties_fields_together() -> None:
    """Rules over several fields run after the single-field ones (fdc room <= storage)."""
    with pytest.raises(ValueError, match=r"fdc_over_served=2\.0 is invalid: must be at most"):
        WorldParams(storage_over_event=1.5, fdc_over_served=2.0)


def test_from_file_reads_its_section_of_a_shared_file(tmp_path: Path) -> None:
    """One TOML file holds every stage's table; each class reads its own."""
    path = tmp_path / "run.toml"
    path.write_text("[world]\nseed = 3\nskus = 100\n\n[plan]\nmethod = \"exact\"\n",
                    encoding="utf-8")
    assert WorldParams.from_file(path) == WorldParams(seed=3, skus=100)
    assert PlanParams.from_file(path) == PlanParams(method="exact")


def test_network_table_serves_every_stage(tmp_path: Path) -> None:
    """The [network] table sets the network's rules of each stage that has them, unless the
    stage's own table sets them; a bad rule there names the table."""
    path = tmp_path / "run.toml"
    path.write_text("[network]\ntransit_noise = 0.3\npromise_hours = [20.0, 40.0]\n\n"
                    "[plan]\nscenarios = 4\n", encoding="utf-8")
    want = NetworkParams(transit_noise=0.3, promise_hours=(20.0, 40.0))
    assert PlanParams.from_file(path) == PlanParams(scenarios=4, network=want)
    own = tmp_path / "own.toml"
    own.write_text("[network]\ntransit_noise = 0.3\n\n[plan.network]\nlast_mile_hours = 1.0\n",
                   encoding="utf-8")
    assert PlanParams.from_file(own).network == NetworkParams(last_mile_hours=1.0)
    bad = tmp_path / "bad.toml"
    bad.write_text("[network]\ntransit_noise = 1.5\n", encoding="utf-8")
    with pytest.raises(ValueError, match="transit_noise"):
        PlanParams.from_file(bad)
    with pytest.raises(ValueError, match=r"size_probs"):
        NetworkParams(size_probs=(0.5, 0.2))


def test_from_file_top_level_keys(tmp_path: Path) -> None:
    """Without its table, a class reads the top-level keys and leaves other tables alone."""
    path = tmp_path / "world.toml"
    path.write_text("seed = 5\n\n[plan]\nscenarios = 4\n", encoding="utf-8")
    assert WorldParams.from_file(path) == WorldParams(seed=5)


def test_from_file_nested_params(tmp_path: Path) -> None:
    """A table whose field is itself parameters (a sizing's centre) fills that field."""
    path = tmp_path / "sizing.toml"
    path.write_text("[sizing]\nmax_density = 0.2\n\n[sizing.centre]\nchute_rows = 4\n",
                    encoding="utf-8")
    got = SizingParams.from_file(path)
    assert got.max_density == 0.2
    assert got.centre == CentreParams(chute_rows=4)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[plan]\nscenarois = 4\n", r"plan\.toml: \[plan\]: unknown parameter\(s\) scenarois"),
        ("[plan]\nscenarios = 0\n", "scenarios=0 is invalid"),
        ("[plan]\nmethod = { name = \"fast\" }\n", "method is a table"),
        ("[sizing.centre]\nchute_rowz = 4\n", r"\[sizing\]\.centre: unknown.*chute_rowz"),
    ],
)
def test_from_file_errors_name_the_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    """Unknown keys name the file, the table and the key; bad values name the field."""
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    cls: type[Params] = SizingParams if "sizing" in text else PlanParams
    with pytest.raises(ValueError, match=match):
        cls.from_file(path)


def test_check_reports_the_rule() -> None:
    """The error says the field, the value and the rule, as ``name=value is invalid: ...``."""
    with pytest.raises(ValueError, match=r"^regions=30 is invalid: must be an integer in "
                                         r"\[31, 338\]$"):
        WorldParams(regions=30)
    with pytest.raises(ValueError, match=r"^method='best' is invalid: must be one of 'fast'"):
        PlanParams(method="best")
