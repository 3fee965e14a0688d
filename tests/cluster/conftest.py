"""One local Dask cluster of two worker processes for every cluster test of the session.

Tests that use it are marked ``cluster`` (``pytest -m cluster`` selects them,
``-m "not cluster"`` leaves them out); they run in ``make test``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from forestock.cluster import connect

#: The address the cluster tests run on: two worker processes, as a user's ``--cluster local:2``.
ADDRESS = "local:2"


@pytest.fixture(scope="session")
def client() -> Iterator[object]:
    """A client of a LocalCluster of two processes, shared by the session's cluster tests."""
    with connect(ADDRESS) as c:
        yield c
