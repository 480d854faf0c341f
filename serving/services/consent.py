"""The consent log (issue 9): opt-ins and opt-outs with their source and time. The latest event for a scope
decides; an opt-out of `all` also covers marketing. Marketing messages (nurturing, closing offers, cart recovery)
ask `may_market` before they are queued."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import ConsentEvent, Contact
from crm.settings import Settings
from ml.nlu.text import fold

# Only a whole message that is the keyword (START / ALTA) or a plain request counts: "no quiero recibir ofertas"
# must never read as an opt-in, so anything negated is refused first.
OPT_IN = re.compile(r"^\s*(start|alta|unstop|suscribir(me)?|subscribe|quiero suscribirme)\s*[.!]*\s*$"
                    r"|^\s*(si,? )?(quiero|me gustaria) recibir (sus )?(ofertas|promociones|novedades)\s*[.!]*\s*$"
                    r"|^\s*(yes,? )?send me (your )?(offers|deals|promotions)\s*[.!]*\s*$")
NEGATED = re.compile(r"\b(no|ya no|nunca|jamas|don'?t|do not|never|stop|baja)\b")


def is_opt_in(text: str) -> bool:
    folded = fold(text)
    return bool(OPT_IN.search(folded)) and not NEGATED.search(folded)


async def record(session: AsyncSession, contact: Contact, kind: str, *, source: str, occurred_at: datetime,
                 scope: str = "marketing", channel: str | None = None, evidence: str | None = None) -> ConsentEvent:
    """Logs the event and keeps `contacts.opted_out` (what every send checks) in step with it."""
    latest = await session.scalar(select(ConsentEvent.occurred_at).where(ConsentEvent.contact_id == contact.id)
                                  .order_by(ConsentEvent.occurred_at.desc()).limit(1))
    event = ConsentEvent(contact_id=contact.id, kind=kind, scope=scope, channel=channel, source=source,
                         evidence=evidence, occurred_at=occurred_at)
    session.add(event)
    if latest is None or occurred_at >= latest:  # a backfilled older event is logged but decides nothing
        if kind == "opt_out":
            contact.opted_out = True
        elif kind == "opt_in":
            contact.opted_out = False
    await session.flush()
    return event


async def may_market(session: AsyncSession, contact: Contact, settings: Settings) -> tuple[bool, str | None]:
    """(allowed, why not): no opt-out after the last opt-in, and an opt-in when MARKETING_REQUIRES_OPT_IN."""
    if contact.opted_out:
        return False, "opted_out"
    latest = (await session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
                                    .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()).limit(1))).first()
    if latest is not None and latest.kind == "opt_out":
        return False, "consent_opt_out"
    if settings.marketing_requires_opt_in and (latest is None or latest.kind != "opt_in"):
        return False, "no_marketing_opt_in"
    return True, None


async def history(session: AsyncSession, contact_id: int) -> list[ConsentEvent]:
    return list((await session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)
                                       .order_by(ConsentEvent.occurred_at, ConsentEvent.id))).all())
