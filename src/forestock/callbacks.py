"""Progress callbacks: long runs report through them; the CLI and dashboard listen."""

from __future__ import annotations


class Callbacks:
    """No-op progress listener; subclass and override what you need.

    A long run calls ``on_start(task, total)`` once per task, ``on_step(task,
    advance)`` as work completes (``advance`` in the same unit as ``total``)
    and ``on_end(task)`` when the task is done.
    """

    def on_start(self, task: str, total: float) -> None:
        """A task of ``total`` units of work begins."""

    def on_step(self, task: str, advance: float) -> None:
        """``advance`` more units of ``task`` are done."""

    def on_end(self, task: str) -> None:
        """``task`` is finished."""


NO_CALLBACKS = Callbacks()
