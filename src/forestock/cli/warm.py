"""``forestock warm``: compile the numba kernels ahead, into their on-disk cache."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape

from forestock._runtime import CompileClock
from forestock.cli._common import app, err, out, user_errors
from forestock.workspace import Workspace


def _sortation() -> None:
    """The lifelong planner on a small generated centre, in both motion models."""
    import numpy as np

    from forestock.sortation import solve_sortation
    from forestock.sortation._layout import CentreParams, build_centre, centre_problem

    centre = build_centre(CentreParams(chute_rows=2, chute_cols=4))
    share = np.full(centre.n_chutes, 1.0 / centre.n_chutes)
    for model in ("rotation", "four"):
        solve_sortation(centre_problem(centre, 6, share, 20, seed=0, model=model))


def _forecast(folder: Path) -> None:
    """forestock's forecast of the tiny world with few boosting rounds (the kernels are the
    same whatever the rounds; LightGBM's time is not what this is for)."""
    from forestock.forecast import ForecastParams, forecast_with_totals, target_window

    ws = Workspace(folder)
    t = {k: ws.read(k) for k in ("history", "calendar", "skus", "regions")}
    last = t["history"]["date"].max().date()
    with ws.stage("forecast", reads=list(t)):
        result = forecast_with_totals(t["history"], t["calendar"],
                                      target_window(t["calendar"], last, "11.11"), t["skus"],
                                      t["regions"], ForecastParams(rounds=4))
        ws.write_many({"forecast": result.table, "forecast_total": result.totals})


@app.command()
def warm() -> None:
    """Compile forestock's numba kernels ahead, so a first run does not wait for them.

    Runs the flow (world, forecast, plan, simulate on one and two workers in hour-long and
    small chunks, sortation) on a tiny world in a temporary folder; numba keeps every
    kernel it compiles in its on-disk cache, which later runs load in a fraction of a
    second. `make demo` runs it after installing. Prints the seconds spent and how many
    kernels were compiled (0 when the cache was already warm).
    """
    from forestock.cli.plan import plan
    from forestock.cli.simulate import simulate
    from forestock.cli.world import world

    t0 = time.perf_counter()
    with user_errors(), tempfile.TemporaryDirectory(prefix="forestock-warm-") as tmp, \
            CompileClock() as clock:
        ws = Path(tmp) / "ws"
        steps: list[tuple[str, Callable[[], None]]] = [
            ("world", lambda: world(workspace=ws, seed=0, skus=40, regions=31, as_json=True)),
            ("forecast", lambda: _forecast(ws)),
            ("plan", lambda: plan(workspace=ws, seed=0, as_json=True)),
            ("simulate", lambda: simulate(workspace=ws, day=None, event="11.11", seed=0,
                                          as_json=True)),
            # small chunks: a chunk shorter than an hour hands the kernels slices of their
            # hour-long buffers (another layout, so other compiled versions), as a large
            # day's busy hours do
            ("simulate in small chunks", lambda: simulate(
                workspace=ws, day=None, event="11.11", seed=0, chunk_orders=1_000,
                as_json=True)),
            ("simulate on 2 workers", lambda: simulate(
                workspace=ws, day=None, event="11.11", seed=0, workers=2, as_json=True)),
            ("simulate on 2 workers in small chunks", lambda: simulate(
                workspace=ws, day=None, event="11.11", seed=0, workers=2, chunk_orders=1_000,
                as_json=True)),
            ("sortation", _sortation),
        ]
        for name, step in steps:
            before, started = clock.seconds, time.perf_counter()
            with out.capture(), err.capture():
                step()
            err.print(escape(f"{name}: {time.perf_counter() - started:.1f} s, of which "
                             f"{clock.seconds - before:.1f} s compiling or loading kernels"),
                      highlight=False)
    out.print(escape(f"kernels ready: {clock.compiled} compiled, {clock.seconds:.1f} s compiling "
                     f"or loading them, {time.perf_counter() - t0:.0f} s in all"),
              highlight=False)
