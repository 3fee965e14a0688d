"""forestock.cluster: addresses parsed, a local cluster started and closed."""

from __future__ import annotations

import pytest

from forestock.cluster import connect, local_workers
from forestock.errors import ForestockError


def test_addresses() -> None:
    assert local_workers("local:2") == 2
    assert local_workers("tcp://10.0.0.5:8786") is None
    assert local_workers("scheduler:8786") is None
    for bad in ("local:0", "local:two", "local:", "tcp://a b:1", ""):
        with pytest.raises(ForestockError, match="cluster"):
            local_workers(bad)


def test_no_address_is_this_process() -> None:
    with connect(None) as client:
        assert client is None


@pytest.mark.cluster
def test_local_cluster_runs_work_and_closes() -> None:
    with connect("local:1") as client:
        assert client is not None
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert len(client.scheduler_info()["workers"]) == 1
    assert client.status == "closed"


@pytest.mark.cluster
def test_session_cluster_has_two_workers(client: object) -> None:
    from distributed import Client

    assert isinstance(client, Client)
    assert len(client.scheduler_info()["workers"]) == 2
