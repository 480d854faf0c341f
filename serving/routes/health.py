"""Liveness and readiness: open routes for load balancers and `make serve`."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])
log = structlog.get_logger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers (and its schema is migrated); 503 otherwise."""
    pool = request.app.state.pool
    try:
        async with pool.connection(timeout=2.0) as conn:
            cursor = await conn.execute("SELECT version_num FROM crm.alembic_version")
            row = await cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        # Open route: the reason goes to the log, not to the caller (it names hosts and users).
        log.warning("readyz.unavailable", error=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable or not migrated"}, 503)
    return JSONResponse({"status": "ready", "database": "ok", "schema_revision": row[0] if row else None})
