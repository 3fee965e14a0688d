"""Names across the packages: one meaning per public class name."""

from __future__ import annotations

import importlib
import pkgutil
import typing

import forestock
from forestock.sortation import ActionModel


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(forestock.__path__, "forestock.")]


def test_no_class_is_named_model() -> None:
    """No module defines a bare ``Model``: each class says what it is (SolverArrays...)."""
    holders = [name for name in _modules()
               if hasattr(importlib.import_module(name), "Model")]
    assert holders == []


def test_action_model_names_the_two_robot_models() -> None:
    """Sortation's action model is the competition's rotation model or four-way moves."""
    assert typing.get_args(ActionModel) == ("rotation", "four")
