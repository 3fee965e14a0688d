"""The intraday shape of a sale day, as the network models it (:mod:`forestock.network`)."""

from __future__ import annotations

from forestock.network import DAY_SECONDS as SECONDS
from forestock.network import intraday_cdf

__all__ = ["SECONDS", "intraday_cdf"]
