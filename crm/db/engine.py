"""Connections: a SQLAlchemy async engine for the ORM, and a psycopg pool for the webhook hot path.

Every connection searches `crm` first: procrastinate's SQL uses unqualified names and lives in that schema.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from crm.db.urls import plain_url, sqlalchemy_url

SEARCH_PATH = "crm,public"
CONNECTION_OPTIONS = f"-c search_path={SEARCH_PATH}"


def create_engine(database_url: str, pool_size: int = 5, connect_timeout_s: float = 3.0) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": CONNECTION_OPTIONS, "connect_timeout": max(1, int(connect_timeout_s))},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_psycopg_pool(database_url: str, min_size: int, max_size: int, connect_timeout_s: float = 3.0,
                        autocommit: bool = True, statement_timeout_ms: int = 4000,
                        lock_timeout_ms: int = 2000):  # noqa: ANN201 - psycopg_pool imported lazily
    """An unopened AsyncConnectionPool; the caller opens it (without waiting, so start-up survives a down DB).

    Statement and lock timeouts keep one stuck lock from stalling every request that shares the pool: a request
    then fails fast (503) instead of hanging until Meta's own timeout."""
    from psycopg_pool import AsyncConnectionPool

    return AsyncConnectionPool(
        plain_url(database_url),
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=connect_timeout_s,
        kwargs={
            "autocommit": autocommit,
            "options": f"{CONNECTION_OPTIONS} -c statement_timeout={statement_timeout_ms} "
                       f"-c lock_timeout={lock_timeout_ms}",
            "connect_timeout": max(1, int(connect_timeout_s)),
        },
        name="crm",
    )
