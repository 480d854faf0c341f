"""Alembic environment: the `crm` schema, its version table inside it, URL from the project settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from crm.db.base import CRM_SCHEMA
from crm.db.models import Base
from crm.db.urls import sqlalchemy_url

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from crm.db.runtime import resolve_database_url

        url = resolve_database_url()
    return sqlalchemy_url(url)


# Managed in SQL by their migrations, not by the models: generated search columns and their indexes.
_SQL_MANAGED = {"search_spanish", "search_english", "ix_products_search_spanish", "ix_products_search_english",
                "ix_products_name_trgm"}


def _include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    if name in _SQL_MANAGED:
        return False
    # procrastinate's tables live in the crm schema but are managed by its own SQL, not by our models.
    if type_ == "table" and name and (name.startswith("procrastinate_") or name == "alembic_version"):
        return False
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        version_table_schema=CRM_SCHEMA,
        include_schemas=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # With a database user named `crm`, "$user" would make crm the default schema and autogenerate would see
    # schema-less foreign keys; pin the default so every object is compared schema-qualified.
    engine = create_engine(
        _database_url(), poolclass=pool.NullPool, connect_args={"options": "-c search_path=public"}
    )
    with engine.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {CRM_SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=CRM_SCHEMA,
            include_schemas=True,
            include_object=_include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
