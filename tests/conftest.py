"""Shared fixtures: a real gateway on a real socket, and real clients connected to it."""

from __future__ import annotations

import os

# xlwings Server's decorators are live only when these are set before xlwings is first imported
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
os.environ.setdefault("XLWINGS_ON_SERVER", "true")
# tests connect in direct mode unless they start a hub of their own (in a private IBXL_HUB_DIR),
# so no test attaches to, or leaves behind, a shared hub
os.environ.setdefault("IBXL_HUB", "0")

import itertools
import socket
from collections.abc import Iterator

import pytest

from ibxl.sim import SimConfig, SimGateway

_client_ids = itertools.count(100)


@pytest.fixture(scope="session")
def gateway() -> Iterator[SimGateway]:
    """One gateway for the whole test session (tests use distinct client ids)."""
    with SimGateway(SimConfig(seed=42)) as gw:
        yield gw


@pytest.fixture
def fresh_gateway() -> Iterator[SimGateway]:
    """A gateway of the test's own, for tests that change limits or break connections."""
    with SimGateway(SimConfig(seed=7)) as gw:
        yield gw


@pytest.fixture
def client_id() -> int:
    """A client id no other test uses."""
    return next(_client_ids)


@pytest.fixture
def ib(gateway: SimGateway, client_id: int):
    """An ib_async client connected to the shared gateway."""
    from ib_async import IB

    conn = IB()
    conn.connect(gateway.host, gateway.port, clientId=client_id, timeout=10)
    yield conn
    conn.disconnect()


def raw_socket(host: str, port: int) -> socket.socket:
    """A plain TCP socket to the gateway, for wire-level tests."""
    sock = socket.create_connection((host, port), timeout=5)
    return sock


@pytest.fixture(scope="module")
def ibxl_sim(tmp_path_factory):
    """ibxl connected to its own embedded gateway, with a private cache and data directory."""
    import os

    import ibxl

    base = tmp_path_factory.mktemp("ibxl")
    saved = {k: os.environ.get(k) for k in ("IBXL_CACHE_DIR", "IBXL_DATA_DIR", "IBXL_TRADING", "IBXL_CONFIG")}
    os.environ["IBXL_CACHE_DIR"] = str(base / "cache")
    os.environ["IBXL_DATA_DIR"] = str(base / "data")
    os.environ["IBXL_CONFIG"] = str(base / "config.toml")
    os.environ.pop("IBXL_TRADING", None)
    from ibxl import bars, trading

    bars._store = None  # noqa: SLF001 - each module gets a fresh store in its own directory
    trading._keys = None  # noqa: SLF001
    client = ibxl.connect(sim=True, hub=False)
    yield client
    ibxl.disconnect()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
