"""Apply the Alembic migrations programmatically (what `crm db up` does after starting the server)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from crm.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "crm" / "db" / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from sqlalchemy import create_engine, text

    from crm.db.urls import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('crm.alembic_version')")).scalar()
            if not exists:
                return None
            return conn.execute(text("SELECT version_num FROM crm.alembic_version")).scalar()
    finally:
        engine.dispose()
