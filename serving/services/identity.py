"""Who wrote: find the contact behind a channel identity, or create one, without ever creating two.

Identities are locked (transaction-scoped advisory locks, in a fixed order) before they are looked up, so two
workers seeing the same new customer at once create one contact. Merging contacts that different identities
created is the data platform's job (Splink, `warehouse.contact_clusters`), not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, ContactIdentity, Message

IDENTITY_KIND = {"messenger": "psid", "instagram": "igsid"}
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    channel: str
    kind: str
    external_id: str


def identities_for_message(message: Message) -> list[Identity]:
    """WhatsApp: the phone (wa_id) and the business-scoped user ids; Messenger / Instagram: the scoped id."""
    channel = message.channel
    if channel == "whatsapp":
        profile = message.sender_profile or {}
        found = [
            ("wa_id", profile.get("wa_id")),
            ("bsuid", profile.get("user_id")),
            ("parent_bsuid", profile.get("parent_user_id")),
        ]
        if not profile.get("wa_id") and not profile.get("user_id") and message.counterpart_external_id:
            found.append(("wa_id", message.counterpart_external_id))
        return [Identity(channel, kind, str(value)) for kind, value in found if value]
    if message.counterpart_external_id:
        return [Identity(channel, IDENTITY_KIND.get(channel, "user"), message.counterpart_external_id)]
    return []


def phone_from_wa_id(wa_id: str | None) -> str | None:
    """wa_id is the international number without `+` (proper E.164 cleaning happens in contacts_clean)."""
    if wa_id and wa_id.isdigit() and 7 <= len(wa_id) <= 15:
        return f"+{wa_id}"
    return None


async def _lock(session: AsyncSession, identities: list[Identity]) -> None:
    """Advisory locks on every identity, in one statement and a fixed order (no deadlock between workers)."""
    keys = sorted({f"identity:{i.channel}:{i.kind}:{i.external_id}" for i in identities})
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                               "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"),
                          {"keys": keys})


async def resolve_contact(
    session: AsyncSession,
    identities: list[Identity],
    display_name: str | None = None,
    seen_at: datetime | None = None,
    account_external_id: str = "",
) -> Contact:
    """The contact owning any of these identities (the oldest if they disagree), created when none does;
    identities it lacks are attached to it."""
    if not identities:
        raise ValueError("at least one identity is needed to resolve a contact")
    seen_at = seen_at or datetime.now(UTC)
    await _lock(session, identities)
    keys = [(i.channel, i.kind, i.external_id) for i in identities]
    existing = (
        await session.scalars(
            select(ContactIdentity)
            .where(tuple_(ContactIdentity.channel, ContactIdentity.kind, ContactIdentity.external_id).in_(keys))
            .order_by(ContactIdentity.contact_id)
        )
    ).all()
    if existing:
        contact = await session.get(Contact, existing[0].contact_id)
        assert contact is not None  # identities cascade with their contact
    else:
        wa_id = next((i.external_id for i in identities if i.kind == "wa_id"), None)
        contact = Contact(
            display_name=display_name,
            phone_e164=phone_from_wa_id(wa_id),
            source_channel=identities[0].channel,
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        session.add(contact)
        await session.flush()
        log.info("identity.contact_created", contact_id=contact.id,
                 identities=[f"{i.channel}:{i.kind}:{i.external_id}" for i in identities])
    known = {(i.channel, i.kind, i.external_id) for i in existing}
    for identity in identities:
        if (identity.channel, identity.kind, identity.external_id) not in known:
            await session.execute(
                insert(ContactIdentity)
                .values(contact_id=contact.id, channel=identity.channel, kind=identity.kind,
                        external_id=identity.external_id, account_external_id=account_external_id,
                        display_name=display_name, last_seen_at=seen_at)
                .on_conflict_do_nothing(index_elements=["channel", "kind", "external_id"])
            )
    for identity in existing:
        identity.last_seen_at = max(filter(None, (identity.last_seen_at, seen_at)))
    if display_name and not contact.display_name:
        contact.display_name = display_name
    if contact.last_seen_at is None or seen_at > contact.last_seen_at:
        contact.last_seen_at = seen_at
    if contact.first_seen_at is None or seen_at < contact.first_seen_at:
        contact.first_seen_at = seen_at
    return contact


async def add_identity(session: AsyncSession, contact: Contact, identity: Identity) -> None:
    """Attach one more identity (e.g. the new number after a WhatsApp `user_changed_number`)."""
    await _lock(session, [identity])
    await session.execute(
        insert(ContactIdentity)
        .values(contact_id=contact.id, channel=identity.channel, kind=identity.kind,
                external_id=identity.external_id)
        .on_conflict_do_nothing(index_elements=["channel", "kind", "external_id"])
    )
