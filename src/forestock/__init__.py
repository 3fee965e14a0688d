"""forestock: plan and rehearse a mega sale day.

Forecast demand per SKU and region, pre-position stock in the warehouses
nearest the buyers, rehearse the day order by order, and report.
"""

import os as _os

# OpenMP worker threads (LightGBM's, numba's) spin while they wait by default, and on a
# machine shared with other work they fight it for the cores: a forecast took 60 times its
# CPU time in wall time. Passive waiting costs a quiet machine nothing measurable. Set before
# any OpenMP runtime loads; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from forestock.callbacks import Callbacks
from forestock.errors import (
    ForestockError,
    ForestockWarning,
    InfeasibleError,
    MissingTableError,
    TableError,
)
from forestock.workspace import Workspace

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
