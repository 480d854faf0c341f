"""The FastAPI application: routers, and the lifespan that opens the database pools and the ingest writer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from crm.db.engine import create_engine, create_psycopg_pool, session_factory
from crm.db.runtime import resolve_database_url
from ml.registry import registry_dsn
from crm.logging import configure_logging
from crm.settings import Settings, get_settings
from serving.deps import ApiKeyCache
from serving.routes import (
    agents,
    automation,
    catalog,
    commerce,
    content,
    conversations,
    events,
    feedback,
    health,
    media,
    metrics,
    nlu,
    privacy,
    webhooks,
)
from serving.services.ingest.writer import IngestWriter
from serving.services.lead_model import ChampionModel, keep_fresh, refresh_safely
from serving.services.nlu_champion import NluChampion
from serving.services.understanding import Understanding

API_PREFIX = "/api/v1"
log = structlog.get_logger(__name__)


class UnsafeConfiguration(RuntimeError):
    """Refuse to start in production with settings that would accept forged webhooks."""


def check_configuration(settings: Settings) -> None:
    if not settings.meta_app_secret:
        if settings.is_production:
            raise UnsafeConfiguration("META_APP_SECRET must be set when APP_ENV=production")
        log.warning("webhook.signature_check_disabled",
                    detail="META_APP_SECRET is not set: webhook signatures are NOT verified (development only)")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        check_configuration(settings)
        database_url = settings.database_url or resolve_database_url(start=False)
        pool = create_psycopg_pool(database_url, min_size=2, max_size=settings.db_pool_size,
                                   connect_timeout_s=settings.db_connect_timeout_s)
        await pool.open(wait=False)
        engine = create_engine(database_url, pool_size=5, connect_timeout_s=settings.db_connect_timeout_s)
        writer = IngestWriter(pool, flushers=max(1, settings.db_pool_size - 2),
                              timeout_s=settings.webhook_write_timeout_s)
        await writer.start()
        app.state.settings = settings
        app.state.pool = pool
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.ingest_writer = writer
        app.state.api_key_cache = ApiKeyCache()
        # Loads the trained local models (training them from the shipped corpus on a fresh install).
        app.state.understanding = await asyncio.to_thread(Understanding.from_settings, settings,
                                                          lambda: app.state.sessions)
        # Promoted models (MLflow @champion) are loaded now and swapped in when a newer one is promoted.
        registry = registry_dsn(settings.mlflow_tracking_uri, database_url)
        app.state.lead_model = ChampionModel(registry)
        app.state.nlu_champion = NluChampion(registry, app.state.understanding.local)
        refreshers = []
        for model in (app.state.lead_model, app.state.nlu_champion):
            await asyncio.to_thread(refresh_safely, model)
            refreshers.append(asyncio.create_task(keep_fresh(model, settings.lead_model_refresh_s)))
        log.info("api.started", env=settings.app_env, lead_model_version=app.state.lead_model.version,
                 nlu_version=app.state.nlu_champion.version)
        try:
            yield
        finally:
            for refresher in refreshers:
                refresher.cancel()
            await writer.stop()
            await pool.close()
            await engine.dispose()

    app = FastAPI(
        title="Autonomous CRM",
        version="0.1.0",
        description="Answers customers on WhatsApp, Instagram and Messenger; hands over to humans when it should.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(webhooks.router, prefix=API_PREFIX)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(feedback.router, prefix=API_PREFIX)
    app.include_router(automation.router, prefix=API_PREFIX)
    app.include_router(content.router, prefix=API_PREFIX)
    app.include_router(nlu.router, prefix=API_PREFIX)
    app.include_router(catalog.router, prefix=API_PREFIX)
    app.include_router(conversations.router, prefix=API_PREFIX)
    app.include_router(agents.router, prefix=API_PREFIX)
    app.include_router(commerce.router, prefix=API_PREFIX)
    app.include_router(media.router, prefix=API_PREFIX)
    app.include_router(privacy.router, prefix=API_PREFIX)
    app.add_route(f"{API_PREFIX}{webhooks.WEBHOOK_POST_PATH}", webhooks.receive_webhook, methods=["POST"],
                  name="receive_webhook", include_in_schema=False)
    _document_raw_routes(app)
    return app


def _document_raw_routes(app: FastAPI) -> None:
    """Add the plain Starlette webhook route to the OpenAPI schema FastAPI generates for the others."""
    default_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = default_openapi()
            schema["paths"].setdefault(f"{API_PREFIX}{webhooks.WEBHOOK_POST_PATH}", {})["post"] = webhooks.WEBHOOK_POST_OPENAPI
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
