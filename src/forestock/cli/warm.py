"""``forestock warm``: compile the numba kernels ahead, into their on-disk cache."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.markup import escape

from forestock._runtime import CompileClock
from forestock.cli._common import app, err, out, user_errors


def _sortation() -> None:
    """The lifelong planner on a small generated centre, in both motion models."""
    import numpy as np

    from forestock.sortation import solve_sortation
    from forestock.sortation._layout import CentreParams, build_centre, centre_problem

    centre = build_centre(CentreParams(chute_rows=2, chute_cols=4))
    share = np.full(centre.n_chutes, 1.0 / centre.n_chutes)
    for model in ("rotation", "four"):
        solve_sortation(centre_problem(centre, 6, share, 20, seed=0, model=model))


@app.command()
def warm() -> None:
    """Compile forestock's numba kernels ahead, so a first run does not wait for them.

    Runs the flow (world, forecast, plan, simulate on one and two workers in hour-long and
    small chunks, sortation) on a tiny world in memory; numba keeps every
    kernel it compiles in its on-disk cache, which later runs load in a fraction of a
    second. `make demo` runs it after installing. Prints the seconds spent and how many
    kernels were compiled (0 when the cache was already warm).
    """
    from forestock import flow
    from forestock.forecast import ForecastParams
    from forestock.simulate import SimulateParams
    from forestock.world import WorldParams

    t0 = time.perf_counter()
    tables = flow.Tables()
    day = SimulateParams()
    # small chunks: a chunk shorter than an hour hands the kernels slices of their hour-long
    # buffers (another layout, so other compiled versions), as a large day's busy hours do
    small = day.replace(chunk_orders=1_000)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("world", lambda: flow.run_world(tables, WorldParams(skus=40, regions=31))),
        # few boosting rounds: the kernels are the same whatever the rounds (LightGBM's time
        # is not what this is for)
        ("forecast", lambda: flow.run_forecast(tables, ForecastParams(rounds=4))),
        ("plan", lambda: flow.run_plan(tables)),
        ("simulate", lambda: flow.run_simulate(tables, day)),
        ("simulate in small chunks", lambda: flow.run_simulate(tables, small)),
        ("simulate on 2 workers", lambda: flow.run_simulate(tables, day.replace(workers=2))),
        ("simulate on 2 workers in small chunks",
         lambda: flow.run_simulate(tables, small.replace(workers=2))),
        ("sortation", _sortation),
    ]
    with user_errors(), CompileClock() as clock:
        for name, step in steps:
            before, started = clock.seconds, time.perf_counter()
            step()
            err.print(escape(f"{name}: {time.perf_counter() - started:.1f} s, of which "
                             f"{clock.seconds - before:.1f} s compiling or loading kernels"),
                      highlight=False)
    out.print(escape(f"kernels ready: {clock.compiled} compiled, {clock.seconds:.1f} s compiling "
                     f"or loading them, {time.perf_counter() - t0:.0f} s in all"),
              highlight=False)
