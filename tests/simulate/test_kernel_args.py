"""The kernels' structured arguments: each group is unpacked by its fields, in their order."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from typing import Any

import numpy as np

from forestock.simulate import _arrays, _kernels, _queues, _tallies
from forestock.simulate._arrays import DayShape, Start, plain

GROUPS = {name: cls for name, cls in vars(_arrays).items()
          if isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")}


def kernels() -> Iterator[tuple[str, Any]]:
    """Every numba kernel of the rehearsal, with its Python function."""
    for mod in (_kernels, _queues, _tallies):
        for name, obj in vars(mod).items():
            fn = getattr(obj, "py_func", None)
            if fn is not None and fn.__module__ == mod.__name__:
                yield f"{mod.__name__}.{name}", fn


def test_kernels_unpack_each_group_in_field_order() -> None:
    """Every kernel parameter typed as a group is unpacked exactly once into locals named as
    the group's fields, in their order (an unused one with a leading underscore): kernels
    take the groups as plain tuples, so only the order ties a local to its field."""
    checked = 0
    for name, fn in kernels():
        func = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
        assert isinstance(func, ast.FunctionDef)
        groups = {a.arg: GROUPS[a.annotation.id] for a in func.args.args
                  if isinstance(a.annotation, ast.Name) and a.annotation.id in GROUPS}
        seen: dict[str, int] = dict.fromkeys(groups, 0)
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) \
                    and node.value.id in groups:
                (target,) = node.targets
                assert isinstance(target, ast.Tuple), (name, node.value.id)
                names = [e.id.removeprefix("_") for e in target.elts if isinstance(e, ast.Name)]
                assert names == list(groups[node.value.id]._fields), (name, node.value.id)
                seen[node.value.id] += 1
        assert seen == dict.fromkeys(groups, 1), name
        checked += len(groups)
    assert checked >= 15  # (the kernels do take groups)


def test_a_group_as_namedtuple_or_plain_tuple_gives_the_same() -> None:
    """A kernel given its groups as NamedTuples (numba's type for them differs) fills in
    exactly what it does given plain tuples."""
    cdf = np.linspace(0.0, 1.0, 86_401)[1:]
    shape = DayShape(_kernels.size_thresholds(np.array([0.7, 0.3])), cdf,
                     _kernels.inverse_widths(cdf), _kernels.cdf_lut(cdf))
    keys = np.arange(0, 90, 3, dtype=np.int64)
    units = np.arange(keys.size, dtype=np.int64) * 7
    got = [Start(np.empty(keys.size, dtype=np.uint64), np.empty(keys.size, dtype=np.int64),
                 np.empty(keys.size, dtype=np.uint64), np.empty(keys.size)) for _ in range(2)]
    _kernels.start_cells(keys, units, np.uint64(3), plain(shape), plain(got[0]))
    _kernels.start_cells(keys, units, np.uint64(3), shape, got[1])
    for a, b in zip(*got, strict=True):
        np.testing.assert_array_equal(a, b)
