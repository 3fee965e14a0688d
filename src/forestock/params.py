"""The base of every stage's parameters: checked copies, TOML files, declarative checks.

A stage's parameters are a frozen dataclass deriving from :class:`Params`; it
names its TOML section and declares the rule each field must meet::

    @dataclass(frozen=True)
    class PlanParams(Params):
        section = "plan"
        checks = (
            one_of(METHODS, "method"),
            within("[1, inf)", "scenarios", "iterations", integer=True),
            within("(0, 1]", "margin_rate"),
        )

        method: str = "fast"
        ...

        def _validate(self) -> None:  # rules that tie several fields together
            ...

Every instance is checked when it is made (so :meth:`Params.replace` and
:meth:`Params.from_file` are checked too): a value breaking a rule raises
``ValueError`` naming the field, the value and the rule.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import numbers
import re
import tomllib
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

__all__ = ["Check", "OneOf", "Params", "Within", "one_of", "toml_fields", "within"]


class Check(abc.ABC):
    """A rule that each of the fields ``names`` must meet.

    Subclasses say whether a value meets it (:meth:`ok`) and what it asks
    (:meth:`need`, the end of the error message).
    """

    names: tuple[str, ...]

    @abc.abstractmethod
    def ok(self, value: object) -> bool:
        """Whether ``value`` meets the rule."""

    @abc.abstractmethod
    def need(self) -> str:
        """What the rule asks, as the end of ``"x=-1 is invalid: must be ..."``."""

    def __call__(self, params: object) -> None:
        """Raise ``ValueError`` naming the first of ``names`` whose value breaks the rule."""
        for name in self.names:
            value = getattr(params, name)
            if not self.ok(value):
                raise ValueError(f"{name}={value!r} is invalid: must be {self.need()}")


_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^\]\s)]+)\s*([\])])\s*$")


@dataclass(frozen=True)
class Within(Check):
    """Numbers in an interval (made by :func:`within`).

    ``None`` passes when ``optional``; booleans never pass (they are not
    counts or amounts), nor does NaN.
    """

    names: tuple[str, ...]
    low: float
    high: float
    low_open: bool
    high_open: bool
    integer: bool = False
    optional: bool = False

    def ok(self, value: object) -> bool:
        if value is None:
            return self.optional
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        v = float(value)
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def need(self) -> str:
        what = "an integer" if self.integer else "a number"
        if self.high == math.inf and self.high_open:
            rule = f"{what} {'>' if self.low_open else '>='} {_num(self.low)}"
        else:
            rule = (f"{what} in {'(' if self.low_open else '['}{_num(self.low)}, "
                    f"{_num(self.high)}{')' if self.high_open else ']'}")
        return rule + (" or None" if self.optional else "")


@dataclass(frozen=True)
class OneOf(Check):
    """Values among ``choices`` (made by :func:`one_of`); a mapping's keys are its choices,
    read at each check, so a choice registered later is accepted."""

    names: tuple[str, ...]
    choices: Collection[object]

    def ok(self, value: object) -> bool:
        try:
            return value in self.choices
        except TypeError:  # an unhashable value is no key of a mapping
            return False

    def need(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}" if x != int(x) else f"{int(x):,}"


def within(interval: str, *names: str, integer: bool = False,
           optional: bool = False) -> Within:
    """The fields ``names`` lie in ``interval``, written as in mathematics.

    Parameters
    ----------
    interval
        ``"[0, 1)"``, ``"(0, inf)"``, ``"[1, 10_000]"``: a square bracket
        includes its end, a round one excludes it; ``inf`` and ``-inf`` are
        allowed (``"[0, inf]"`` also admits infinity).
    names
        The fields the rule applies to.
    integer
        The values must be integers (of any integer type but ``bool``).
    optional
        ``None`` passes too.

    Raises
    ------
    ValueError
        A malformed or empty interval.
    """
    m = _INTERVAL.match(interval)
    try:
        if m is None:
            raise ValueError(interval)
        low, high = float(m.group(2)), float(m.group(3))
    except ValueError:
        raise ValueError(f"interval {interval!r} is not like '[0, 1)'") from None
    if not names:
        raise ValueError(f"within({interval!r}) names no field")
    if math.isnan(low) or math.isnan(high) or low > high:
        raise ValueError(f"interval {interval!r} is empty")
    return Within(names, low, high, m.group(1) == "(", m.group(4) == ")", integer, optional)


def one_of(choices: Collection[object], *names: str) -> OneOf:
    """The fields ``names`` take one of ``choices`` (a mapping: one of its keys)."""
    if not names:
        raise ValueError("one_of names no field")
    return OneOf(names, choices)


@dataclass(frozen=True)
class Params:
    """The base of the stages' parameter dataclasses (see the module's docstring).

    Subclasses are frozen dataclasses that set ``section`` (their TOML table)
    and ``checks`` (rules on single fields), and override :meth:`_validate`
    for rules that tie fields together; they do not define ``__post_init__``.
    """

    section: ClassVar[str] = ""
    checks: ClassVar[tuple[Check, ...]] = ()

    def __post_init__(self) -> None:
        for rule in self.checks:
            rule(self)
        self._validate()

    def _validate(self) -> None:
        """Rules that tie several fields together; raise ``ValueError`` naming them."""

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load the fields from a TOML file: the class's ``[section]`` table.

        Without that table, the file's top-level keys are read (the tables of
        other stages' sections are left to them). Fields absent keep their
        defaults; arrays become tuples; a table whose field is itself a
        :class:`Params` (a centre's shape within a sizing) fills that field. A
        field whose parameters have a section of their own (the network's
        rules, ``[network]``, shared by plan and rehearsal) is also read from
        that top-level table when the class's table does not set it.

        Raises
        ------
        ValueError
            Unknown keys, named with the file, or a value breaking a rule.
        """
        fields = toml_fields(path, cls.section, cls)
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints.get(f.name)
            shared = getattr(kind, "section", "")
            # a group shared by stages (the network's rules) also reads its own top-level
            # table, unless the stage's table sets it
            if (f.name not in fields and isinstance(kind, type) and issubclass(kind, Params)
                    and shared and shared != cls.section
                    and isinstance(data.get(shared), dict)):
                fields[f.name] = kind(**_fields(data[shared], kind, f"{path}: [{shared}]"))
        return cls(**fields)


def toml_fields(path: str | Path, section: str, cls: type) -> dict[str, Any]:
    """The ``[section]`` table of a TOML file (or its top-level keys) as keyword arguments
    of the dataclass ``cls``; lists become tuples. Unknown keys raise ``ValueError``."""
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    if section and isinstance(data.get(section), dict):
        data = data[section]
    else:  # top-level keys: other stages' tables are theirs
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if not isinstance(v, dict) or k in names}
    return _fields(data, cls, f"{path}: [{section}]" if section else str(path))


def _fields(data: Mapping[str, Any], cls: type, where: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(names))})")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            kind = typing.get_type_hints(cls).get(key)
            if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
                raise ValueError(f"{where}: {key} is a table, but it is not a group of "
                                 "parameters")
            value = kind(**_fields(value, kind, f"{where}.{key}"))
        out[key] = tuple(value) if isinstance(value, list) else value
    return out
