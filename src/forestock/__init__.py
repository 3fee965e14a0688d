"""forestock: plan and rehearse a mega sale day.

Forecast demand per SKU and region, pre-position stock in the warehouses
nearest the buyers, rehearse the day order by order, and report.
"""

# threading (passive OpenMP waiting, threads following the cores available) is decided in
# one place, before any OpenMP runtime loads: see forestock._runtime. Hence the imports
# after a statement (E402).
from forestock import _runtime

_runtime.configure()

from forestock.callbacks import Callbacks  # noqa: E402
from forestock.errors import (  # noqa: E402
    ForestockError,
    ForestockWarning,
    InfeasibleError,
    MissingTableError,
    TableError,
)
from forestock.workspace import Workspace  # noqa: E402

__all__ = [
    "Callbacks",
    "ForestockError",
    "ForestockWarning",
    "InfeasibleError",
    "MissingTableError",
    "TableError",
    "Workspace",
]
__version__ = "0.1.0"
