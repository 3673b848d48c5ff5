"""Database engines shared by the tests that need them, started once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from .engines import PostgresServer, postgres_server, spark_session


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session."""
    session = spark_session()
    yield session
    session.stop()
    shutil.rmtree(session._uw_warehouse, ignore_errors=True)
