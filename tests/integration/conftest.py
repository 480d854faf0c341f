"""Fixtures shared by integration tests: a temporary MLflow store (tracking database + artifact folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm.db.urls import sqlalchemy_url, with_database
from orchestration.defs.resources import MlflowResource


@dataclass
class Store:
    tracking_uri: str
    artifact_root: Path

    def resource(self, database_url: str) -> MlflowResource:
        return MlflowResource(database_url=database_url, tracking_uri=self.tracking_uri,
                              artifact_root=str(self.artifact_root))


@pytest.fixture(scope="module")
def store(database_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A fresh MLflow tracking database for this test module on the test server, and a temporary artifact folder."""
    name = f"{make_url(database_url).database}_mlflow_{request.module.__name__.rsplit('.', 1)[-1]}"[:63]
    with psycopg.connect(with_database(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return Store(sqlalchemy_url(with_database(database_url, name)), tmp_path_factory.mktemp("mlflow-artifacts"))
