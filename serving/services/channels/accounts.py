"""Which channel account acts where, and with which token. A Facebook page is stored as a `messenger` account (its
page id); an Instagram professional account as `instagram`. Tokens are decrypted with CRM_SECRET_KEY; an account
without its own token uses META_ACCESS_TOKEN."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import ChannelAccount
from crm.security.secrets import decrypt_token
from crm.settings import Settings

# Social channels (posts, comments) to the account kind that holds their page / Instagram account.
ACCOUNT_CHANNEL = {"facebook": "messenger", "instagram": "instagram", "messenger": "messenger",
                   "whatsapp": "whatsapp"}


class NoAccount(LookupError):
    """No active account of the kind a post or a comment needs."""


async def account_token(session: AsyncSession, channel: str, external_id: str, settings: Settings) -> str | None:
    account = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == ACCOUNT_CHANNEL[channel], ChannelAccount.external_id == external_id))).first()
    if account is not None and account.access_token_encrypted:
        return decrypt_token(account.access_token_encrypted, settings.crm_secret_key)
    return settings.meta_access_token


async def publishing_account(session: AsyncSession, channel: str) -> str:
    """The page / Instagram account posts go out from: the active one marked `"publish": true` in its settings,
    else the oldest active one."""
    accounts = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == ACCOUNT_CHANNEL[channel], ChannelAccount.status == "active")
        .order_by(ChannelAccount.id))).all()
    if not accounts:
        kind = "a Facebook page" if channel == "facebook" else "an Instagram account"
        raise NoAccount(f"no {kind} to publish from: add one with `crm channels add --channel "
                        f"{ACCOUNT_CHANNEL[channel]} --id <{'page' if channel == 'facebook' else 'instagram'} id>`")
    chosen = next((a for a in accounts if (a.settings or {}).get("publish") is True), accounts[0])
    return chosen.external_id
