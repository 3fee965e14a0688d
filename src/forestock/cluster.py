"""Where a stage's work runs past one process: a Dask cluster.

Every stage that can spread its work (forecast blocks, the plan's SKU
decomposition, the rehearsal's shards, many rehearsals at once) takes an
optional ``cluster`` address and asks :func:`connect` for a
:class:`distributed.Client`. Without an address nothing changes: the stage
runs in this process exactly as before, and with one it writes the same
tables, bit for bit.

Addresses:

- ``local:N``: a :class:`distributed.LocalCluster` of ``N`` worker processes
  on this machine (one thread each, bound to 127.0.0.1, no dashboard),
  started for the call and closed after it;
- ``tcp://HOST:PORT`` (or ``HOST:PORT``): the scheduler of a running cluster,
  which stays up after the call.

Dask is the optional ``cluster`` extra (``pip install forestock[cluster]``);
it is imported only when an address is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from forestock.errors import ForestockError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["LOCAL", "address_of", "connect", "local_workers", "using"]

#: The address prefix of a cluster started on this machine for the call.
LOCAL = "local:"

_LOCAL = re.compile(r"local:(\d+)")
_REMOTE = re.compile(r"(?:(?:tcp|tls|inproc|ws|wss)://)?[^\s:/]+(?::\d+)?")


def local_workers(address: str) -> int | None:
    """The number of worker processes of a ``local:N`` address; None for a scheduler's
    address. Raises :class:`ForestockError` for an address of neither form."""
    m = _LOCAL.fullmatch(address.strip())
    if m is not None:
        n = int(m.group(1))
        if n < 1:
            raise ForestockError(f"cluster {address!r}: local:N needs at least 1 worker")
        return n
    if address.strip().startswith(LOCAL) or _REMOTE.fullmatch(address.strip()) is None:
        raise ForestockError(
            f"cluster {address!r}: expected local:N (N worker processes on this machine) "
            "or a Dask scheduler's address such as tcp://10.0.0.5:8786")
    return None


def _dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as e:  # pragma: no cover - the extra is part of dev
        raise ForestockError(
            "a cluster needs Dask: pip install 'forestock[cluster]'") from e


@contextmanager
def connect(address: str | None) -> Iterator[Client | None]:
    """A client of the cluster at ``address`` for the ``with`` block; None without one.

    A ``local:N`` cluster is started here and closed when the block ends; a
    scheduler's address is connected to and left running.
    """
    if address is None:
        yield None
        return
    n = local_workers(address)
    _dask()
    from distributed import Client, LocalCluster

    if n is None:
        try:
            client = Client(address.strip(), timeout="30s")
        except (OSError, ValueError) as e:  # ValueError: an address Dask cannot parse
            raise ForestockError(f"cluster {address!r}: cannot reach its scheduler: {e}") from e
        try:
            yield client
        finally:
            client.close()
        return
    # no dashboard; the scheduler's HTTP server (it starts one regardless) on a free port:
    # on its default 8787, taken by another cluster on the machine, it warns and moves
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextmanager
def using(cluster: str | Client | None) -> Iterator[Client | None]:
    """A client for the ``with`` block: of the cluster at an address (:func:`connect`), or
    the client given (left open after the block), or None without a cluster."""
    if cluster is None or isinstance(cluster, str):
        with connect(cluster) as client:
            yield client
        return
    yield cluster


def address_of(cluster: str | Client | None) -> str | None:
    """How a stage's notes name ``cluster``: the address given, or a client's scheduler's."""
    if cluster is None or isinstance(cluster, str):
        return cluster
    return str(cluster.scheduler_info().get("address", cluster))
