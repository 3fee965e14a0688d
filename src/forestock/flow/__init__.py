"""The flow: one function per stage, over a workspace folder or over tables in memory.

Each ``run_<stage>`` reads the tables its stage needs from a *store* (a
:class:`~forestock.workspace.Workspace`, or :class:`Tables` in memory), runs the
stage with its parameters, checks what it made, writes its tables (and notes: seed,
window, figures) back into the store as one commit, and returns a run (``.tables``,
``.facts`` and the stage's own result). The decisions between stages live here, not in
the CLI: which window to forecast and whether in SKU blocks, the plan's check, notices
and pages, the day to rehearse and where its demand comes from. The CLI's verbs parse
flags into parameters, call these and print; a notebook calls them directly::

    from forestock import flow
    from forestock.world import WorldParams

    tables = flow.run_world(params=WorldParams(skus=40, regions=31)).store
    flow.run_forecast(tables)
    flow.run_plan(tables)
    print(flow.run_simulate(tables).result.share_24h)

The stages' packages are imported when a stage runs, so importing this one is light.
"""

from forestock.flow._after import InsightsRun, ReportRun, rehearsal_of, run_insights, run_report
from forestock.flow._forecast import (
    DEFAULT_EVENT,
    DEFAULT_METHOD,
    ForecastRun,
    forecast_window,
    run_forecast,
)
from forestock.flow._plan import DEFAULT_QUANTILE, PlanRun, run_plan
from forestock.flow._run import StageRun
from forestock.flow._scenarios import ScenariosRun, run_scenarios
from forestock.flow._simulate import (
    CHECKPOINT,
    DemandSource,
    SimulateRun,
    planned_window,
    rehearsal_demand,
    run_simulate,
    window_demand,
)
from forestock.flow._store import Store, Tables, TableView
from forestock.flow._world import WorldRun, run_world

__all__ = [
    "CHECKPOINT",
    "DEFAULT_EVENT",
    "DEFAULT_METHOD",
    "DEFAULT_QUANTILE",
    "DemandSource",
    "ForecastRun",
    "InsightsRun",
    "PlanRun",
    "ReportRun",
    "ScenariosRun",
    "SimulateRun",
    "StageRun",
    "Store",
    "TableView",
    "Tables",
    "WorldRun",
    "forecast_window",
    "planned_window",
    "rehearsal_demand",
    "rehearsal_of",
    "run_forecast",
    "run_insights",
    "run_plan",
    "run_report",
    "run_scenarios",
    "run_simulate",
    "run_world",
    "window_demand",
]
