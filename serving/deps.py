"""Dependencies shared by the routers: settings, a database session, and API-key authentication."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import ApiKey
from crm.security.api_keys import hash_key, scope_allows
from crm.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `crm apikey create`.")
_CACHE_TTL_S = 30.0


class ApiKeyCache:
    """Positive lookups are cached for a few seconds so authenticated routes do not hit the table each time."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, int, str, str, int | None]] = {}

    def get(self, key_hash: str) -> tuple[int, str, str, int | None] | None:
        entry = self._entries.get(key_hash)
        if entry and entry[0] > time.monotonic():
            return entry[1:]
        return None

    def put(self, key_hash: str, key_id: int, name: str, scope: str, agent_id: int | None = None) -> None:
        self._entries[key_hash] = (time.monotonic() + _CACHE_TTL_S, key_id, name, scope, agent_id)


class Principal:
    """Who called: the key, its scope, and for an agent's key the agent it belongs to."""

    def __init__(self, key_id: int, name: str, scope: str, agent_id: int | None = None):
        self.key_id, self.name, self.scope, self.agent_id = key_id, name, scope, agent_id


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def dependency(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing API key: send `Authorization: Bearer <key>` (create one with `crm apikey create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key_hash = hash_key(credentials.credentials)
        cache: ApiKeyCache = request.app.state.api_key_cache
        cached = cache.get(key_hash)
        if cached is None:
            row = (
                await session.execute(
                    select(ApiKey.id, ApiKey.name, ApiKey.scope, ApiKey.agent_id).where(
                        ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
                    )
                )
            ).first()
            if row is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key",
                                    headers={"WWW-Authenticate": "Bearer"})
            await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=_now()))
            await session.commit()
            cache.put(key_hash, row.id, row.name, row.scope, row.agent_id)
            cached = (row.id, row.name, row.scope, row.agent_id)
        principal = Principal(*cached)
        if not scope_allows(principal.scope, scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this key's scope `{principal.scope}` does not "
                                                           f"allow `{scope}`")
        return principal

    return dependency


def _now() -> Any:
    from sqlalchemy import func

    return func.now()


ReadKey = Annotated[Principal, Depends(require_scope("read"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
AgentKey = Annotated[Principal, Depends(require_scope("agent"))]
AutomationKey = Annotated[Principal, Depends(require_scope("automation"))]
