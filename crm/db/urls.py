"""One place that turns the plain `postgresql://` DATABASE_URL into each driver's form."""

from __future__ import annotations

from sqlalchemy.engine import make_url

_PLAIN_SCHEMES = ("postgresql", "postgres")


def _with_driver(url: str, driver: str | None) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() not in _PLAIN_SCHEMES:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {parsed.drivername!r}")
    name = "postgresql" if driver is None else f"postgresql+{driver}"
    return parsed.set(drivername=name).render_as_string(hide_password=False)


def plain_url(url: str) -> str:
    """libpq form, for psycopg, pg_dump and humans."""
    return _with_driver(url, None)


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy and MLflow (psycopg 3)."""
    return _with_driver(url, "psycopg")


def dagster_url(url: str) -> str:
    """dagster-postgres needs psycopg2 spelled out with SQLAlchemy 2.1."""
    return _with_driver(url, "psycopg2")


def with_database(url: str, database: str) -> str:
    """Same server, another database (dagster, mlflow, a test database)."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def dbt_env(url: str) -> dict[str, str]:
    """dbt's profiles.yml reads these through env_var()."""
    parsed = make_url(url)
    return {
        "DBT_HOST": parsed.host or "127.0.0.1",
        "DBT_PORT": str(parsed.port or 5432),
        "DBT_USER": parsed.username or "postgres",
        "DBT_PASSWORD": parsed.password or "",
        "DBT_DBNAME": parsed.database or "postgres",
    }
