"""Synthetic retail data sets, written apart from :mod:`forestock.world`, to evaluate forecasts.

Each generator builds its own demand structure from first principles of retail
sales and returns a :class:`DataSet`: the history (including the target
window, so any earlier window can be held out too), the calendar, SKUs and
regions, planned prices where there are promotions, and the generator's
expected units for every SKU, region and date of the target window, so the
noise floor of a forecast is known.

- ``festival``: a Korean retailer's 22-day November sale with a one-day peak
  on 11.11, a lull before and a hangover after, per-SKU lifts, launches and
  discontinued SKUs, a long intermittent tail.
- ``promo``: a US retailer with price promotions and short moving events
  (Black Friday weekend, Prime Day, ...), per-category price elasticity, a
  December gift peak, fast growers and decliners.
- ``grocery``: a Chinese grocery and household network with lumpy
  intermittent demand (orders of multi-packs), step changes in SKU levels, a
  two-week 618 sale rising to its last day, and regions growing at different
  rates.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from forestock.evaluate._common import SIZES, DataSet
from forestock.evaluate._festival import festival
from forestock.evaluate._grocery import grocery
from forestock.evaluate._promo import promo

__all__ = ["GENERATORS", "SIZES", "DataSet", "KnownMeans", "make_dataset"]

GENERATORS: dict[str, Callable[..., DataSet]] = {
    "festival": festival,
    "promo": promo,
    "grocery": grocery,
}
"""Generators by name; each is called as ``generator(seed=0, size="full")``."""


def make_dataset(name: str, seed: int = 0, size: str = "full") -> DataSet:
    """Generate the data set ``name`` (a key of :data:`GENERATORS`).

    Parameters
    ----------
    name
        The generator.
    seed
        Seeds the generator's one random generator; the same seed gives
        identical tables.
    size
        ``"small"`` (tests: at most 40 SKUs and 5 regions, under 2 s) or
        ``"full"`` (benchmarks: 150 to 300 SKUs and 12 to 20 regions).

    Returns
    -------
    DataSet
        The tables, the target window and the expected units in it.

    Raises
    ------
    ValueError
        If ``name`` or ``size`` is unknown.
    """
    try:
        generator = GENERATORS[name]
    except KeyError:
        known = ", ".join(GENERATORS)
        raise ValueError(f"name={name!r} is not a data set generator; known: {known}") from None
    return generator(seed=seed, size=size)


class KnownMeans:
    """A data set's true means as a forecast (every quantile at the mean): scored beside
    the methods in a backtest, its WRMSSE is the noise floor no forecast can beat by much.

    Pass it to :func:`forestock.forecast.backtest` among ``methods``.
    """

    name = "true_means"

    def __init__(self, true_mean: pd.DataFrame) -> None:
        self.true_mean = true_mean

    def fit(self, problem: object) -> KnownMeans:
        """Nothing to learn: returns itself."""
        return self

    def predict(self) -> pd.DataFrame:
        """The true means, with q10, q50 and q90 at the mean."""
        return self.true_mean.assign(q10=self.true_mean["mean"], q50=self.true_mean["mean"],
                                     q90=self.true_mean["mean"])
