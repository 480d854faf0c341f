"""Serving the promoted models: the lead model (ml.leads.champion.ChampionModel) and the NLU champion are loaded
at start and swapped when their alias moves (checked every LEAD_MODEL_REFRESH_S), without a restart; and how the
rule score and the model's probability combine."""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from ml.leads.champion import ChampionModel

log = structlog.get_logger(__name__)
__all__ = ["ChampionModel", "combined_score", "keep_fresh", "refresh_safely"]


def combined_score(rule_score: int, probability: float) -> int:
    """Half the rule score (what the message says) plus half the model's probability (what leads like this did)."""
    return max(0, min(100, round(0.5 * rule_score + 50 * probability)))


class Refreshable(Protocol):
    def refresh(self) -> bool: ...


def refresh_safely(model: Refreshable) -> None:
    """A first load that fails (a missing or unreadable model file) leaves the service running without it."""
    try:
        model.refresh()
    except Exception as exc:  # noqa: BLE001
        log.error("model.load_failed", model=type(model).__name__, error=str(exc))


async def keep_fresh(model: Refreshable, every_s: float) -> None:
    """Background task: picks up a newly promoted champion."""
    while True:
        try:
            await asyncio.to_thread(model.refresh)
        except Exception as exc:  # noqa: BLE001 - a bad moment of the registry must not end the loop
            log.warning("model.refresh_failed", model=type(model).__name__, error=str(exc))
        await asyncio.sleep(every_s)
