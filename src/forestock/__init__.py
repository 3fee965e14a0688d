"""forestock: plan and rehearse a mega sale day.

Forecast demand per SKU and region, pre-position stock in the warehouses
nearest the buyers, rehearse the day order by order, and report.
"""

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
