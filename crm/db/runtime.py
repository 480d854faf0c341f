"""Which database to use: DATABASE_URL when set, otherwise the embedded cluster (started on demand)."""

from __future__ import annotations

import os

from crm.db.local_pg import DEV, LocalCluster
from crm.settings import get_settings


def embedded_cluster() -> LocalCluster:
    settings = get_settings()
    return LocalCluster(DEV, root=settings.crm_pg_dir, port=settings.crm_pg_port)


def resolve_database_url(start: bool = True) -> str:
    """The plain postgresql:// URL every launcher exports to what it starts."""
    if url := os.environ.get("DATABASE_URL") or get_settings().database_url:
        return url
    cluster = embedded_cluster()
    return cluster.up() if start else cluster.url()
