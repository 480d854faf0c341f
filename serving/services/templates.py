"""Approved WhatsApp message templates: synchronized from Meta into `crm.whatsapp_templates`, and chosen when
a conversation's 24-hour customer-service window has closed (or a send failed with 131047), since nothing but
an approved template reaches the customer then.

Rows are never deleted: a template Meta no longer lists becomes `DELETED`, because outbox rows refer to
templates by name and the text they sent must stay explainable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import ChannelAccount, WhatsappTemplate
from crm.security.secrets import SecretKeyMissing, decrypt_token
from crm.settings import Settings
from serving.services.channels.graph import (
    GraphClient,
    GraphError,
    TemplateParameterError,
    template_parameter_text,
)

log = structlog.get_logger(__name__)

APPROVED, DELETED = "APPROVED", "DELETED"
# Templates we may send to reopen a conversation, best first. Only these names: any other approved template
# (an order update, a CSAT survey, a payment reminder) would tell a customer we want back something untrue.
REENGAGEMENT_TEMPLATE_NAMES = ("reengagement", "follow_up", "seguimiento")
# Utility templates first: cheaper than marketing ones, and not subject to Meta's marketing frequency caps.
REENGAGEMENT_CATEGORIES = ("UTILITY", "MARKETING")

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


class TemplateSyncError(Exception):
    """There is no WhatsApp Business Account to synchronize."""


@dataclass
class AccountSync:
    """What one WhatsApp Business Account's sync changed; with `error` set, its rows were left as they were.
    `unreachable`: the Graph API could not be reached at all (a wrong base URL, no network)."""

    business_account_id: str
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    error: str | None = None
    unreachable: bool = False


@dataclass
class SyncReport:
    accounts: list[AccountSync] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.accounts) and all(account.error is None for account in self.accounts)


# -- reading a template's components (pure) ------------------------------------------------------------


def body_text(components: Sequence[dict[str, Any]] | None) -> str:
    """The BODY component's text ('' if the template has none)."""
    for component in components or ():
        if str(component.get("type", "")).upper() == "BODY":
            return str(component.get("text") or "")
    return ""


def count_parameters(components: Sequence[dict[str, Any]] | None) -> int:
    """The highest {{n}} of the BODY: how many body parameters a send must carry (Meta numbers them 1..n)."""
    return max((int(n) for n in _PLACEHOLDER.findall(body_text(components))), default=0)


def needs_more_than_body_parameters(components: Sequence[dict[str, Any]] | None) -> bool:
    """True when a send would need what our payload builder does not fill: named parameters, a media or
    variable header, or a button with a variable URL."""
    for component in components or ():
        kind = str(component.get("type", "")).upper()
        text = str(component.get("text") or "")
        if kind == "BODY" and _NAMED_PLACEHOLDER.search(text):
            return True
        if kind == "HEADER" and (str(component.get("format", "TEXT")).upper() != "TEXT" or "{{" in text):
            return True
        if kind == "BUTTONS" and any("{{" in str(button.get("url") or "")
                                     for button in component.get("buttons") or ()):
            return True
    return False


def render_template_text(template: WhatsappTemplate, params: Sequence[str]) -> str:
    """The BODY as the customer reads it, {{n}} filled as the payload builder fills it: the outbox row's text.
    Raises TemplateParameterError when the count differs from the template's (Meta would refuse the send)."""
    if len(params) != template.parameter_count:
        raise TemplateParameterError(f"template {template.name} ({template.language}) takes "
                                     f"{template.parameter_count} parameter(s), got {len(params)}")
    values = [template_parameter_text(value) for value in params]
    return _PLACEHOLDER.sub(lambda match: values[int(match.group(1)) - 1], body_text(template.components))


def base_language(code: str) -> str:
    return code.replace("-", "_").split("_", 1)[0].lower()


def language_rank(requested: str, candidate: str) -> int | None:
    """0 exact (es_PA for es_PA), 1 the bare base language (es), 2 another variant of it (es_ES, es_MX: the
    alphabetical first wins among those), None for another language. Meta's codes look like `es`, `en_US`."""
    wanted = requested.replace("-", "_").lower()
    have = candidate.replace("-", "_").lower()
    if have == wanted:
        return 0
    if base_language(have) != base_language(wanted):
        return None
    return 1 if "_" not in have else 2


def _best_language(requested: str,
                   templates: Iterable[WhatsappTemplate]) -> list[tuple[int, WhatsappTemplate]]:
    ranked = [(rank, t) for t in templates if (rank := language_rank(requested, t.language)) is not None]
    return sorted(ranked, key=lambda pair: (pair[0], pair[1].language))


# -- choosing a template to send -----------------------------------------------------------------------


async def approved_template(session: AsyncSession, business_account_id: str, name: str,
                            language: str) -> WhatsappTemplate | None:
    """The APPROVED template `name` in the customer's language: the exact code first, then the bare base
    language (`es_PA` → `es`), then another variant (`es_ES`, `es_MX`, alphabetically). None otherwise."""
    rows = (await session.scalars(select(WhatsappTemplate).where(
        WhatsappTemplate.business_account_id == business_account_id, WhatsappTemplate.name == name,
        WhatsappTemplate.status == APPROVED))).all()
    ranked = _best_language(language, rows)
    return ranked[0][1] if ranked else None


async def pick_reengagement_template(session: AsyncSession, business_account_id: str, language: str, *,
                                     categories: Sequence[str] = REENGAGEMENT_CATEGORIES,
                                     max_parameters: int = 1) -> WhatsappTemplate | None:
    """An APPROVED template that reopens a conversation whose 24-hour window has closed, in the customer's
    language (see approved_template), or None: then nothing may be sent on WhatsApp.

    Only REENGAGEMENT_TEMPLATE_NAMES qualify; among them UTILITY before MARKETING (pass
    categories=("UTILITY",) for a contact who opted out of marketing), then the name order, then the closest
    language. Templates needing more than `max_parameters` body parameters (the caller usually has only the
    customer's first name), or parameters our payload builder cannot fill, are skipped."""
    wanted_categories = [c.upper() for c in categories]
    rows = (await session.scalars(select(WhatsappTemplate).where(
        WhatsappTemplate.business_account_id == business_account_id, WhatsappTemplate.status == APPROVED,
        WhatsappTemplate.name.in_(REENGAGEMENT_TEMPLATE_NAMES),
        WhatsappTemplate.category.in_(wanted_categories),
        WhatsappTemplate.parameter_count <= max_parameters))).all()
    candidates = [(rank, t) for rank, t in _best_language(language, rows)
                  if not needs_more_than_body_parameters(t.components)]
    if not candidates:
        return None
    return min(candidates, key=lambda pair: (wanted_categories.index(str(pair[1].category).upper()),
                                             REENGAGEMENT_TEMPLATE_NAMES.index(pair[1].name), pair[0],
                                             pair[1].language))[1]


# -- synchronizing from Meta ---------------------------------------------------------------------------


async def sync_templates(session: AsyncSession, graph: GraphClient, settings: Settings,
                         business_account_ids: list[str] | None = None) -> SyncReport:
    """Bring `crm.whatsapp_templates` in line with what Meta lists for each WhatsApp Business Account: those
    of the WhatsApp channel accounts, or the ids given. Each account is read with its own token (else
    META_ACCESS_TOKEN) and read completely before anything is written, so a Graph failure leaves its rows as
    they were and is reported in its AccountSync; other accounts go on. The caller commits.

    Raises TemplateSyncError when there is no account to synchronize."""
    encrypted_tokens = await _encrypted_tokens(session, business_account_ids)
    if not encrypted_tokens:
        raise TemplateSyncError("no WhatsApp channel account has a business_account_id: add one to "
                                "crm.channel_accounts or pass the WhatsApp Business Account id (--account)")
    report = SyncReport()
    for waba_id, blob in encrypted_tokens.items():
        account = AccountSync(waba_id)
        report.accounts.append(account)
        try:
            token = decrypt_token(blob, settings.crm_secret_key) if blob else settings.meta_access_token
            fetched = await graph.list_templates(waba_id, token)
        except (GraphError, SecretKeyMissing) as exc:
            account.error = str(exc)
            account.unreachable = isinstance(exc, GraphError) and exc.status == 0
            log.warning("templates.sync_failed", business_account_id=waba_id, error=str(exc))
            continue
        await _apply(session, account, fetched)
        log.info("templates.synced", business_account_id=waba_id, added=account.added,
                 updated=account.updated, deleted=account.deleted, unchanged=account.unchanged)
    return report


async def _encrypted_tokens(session: AsyncSession,
                            business_account_ids: list[str] | None) -> dict[str, bytes | None]:
    """WABA id → the encrypted token to read it with (None: META_ACCESS_TOKEN). Several phone numbers may
    share one WABA: the oldest account with a token of its own lends it."""
    accounts = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == "whatsapp", ChannelAccount.business_account_id.is_not(None))
        .order_by(ChannelAccount.id))).all()
    wanted = business_account_ids or [a.business_account_id for a in accounts]
    tokens: dict[str, bytes | None] = {waba_id: None for waba_id in wanted if waba_id}
    for account in accounts:
        if account.business_account_id in tokens and tokens[account.business_account_id] is None:
            tokens[account.business_account_id] = account.access_token_encrypted
    return tokens


async def _apply(session: AsyncSession, account: AccountSync, fetched: list[dict[str, Any]]) -> None:
    existing = {(t.name, t.language): t for t in (await session.scalars(select(WhatsappTemplate).where(
        WhatsappTemplate.business_account_id == account.business_account_id))).all()}
    now = datetime.now(UTC)
    seen: set[tuple[str, str]] = set()
    for item in fetched:
        values = _row_values(item)
        key = (values["name"], values["language"])
        if not key[0] or not key[1] or key in seen:
            continue
        seen.add(key)
        row = existing.get(key)
        if row is None:
            session.add(WhatsappTemplate(business_account_id=account.business_account_id, synced_at=now,
                                         **values))
            account.added += 1
            continue
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        for name, value in changed.items():
            setattr(row, name, value)
        row.synced_at = now
        if changed:
            account.updated += 1
        else:
            account.unchanged += 1
    for key, row in existing.items():
        if key not in seen and row.status != DELETED:
            row.status = DELETED  # kept, outbox rows may name it; synced_at stays when Meta last listed it
            account.deleted += 1
    await session.flush()


def _row_values(item: dict[str, Any]) -> dict[str, Any]:
    """One entry of Meta's `data` list as column values."""
    components = item.get("components") or []
    return {
        "name": str(item.get("name") or ""),
        "language": str(item.get("language") or ""),
        "external_id": str(item["id"]) if item.get("id") is not None else None,
        "category": str(item["category"]).upper() if item.get("category") else None,
        "status": str(item.get("status") or "UNKNOWN").upper(),
        "components": components,
        "parameter_count": count_parameters(components),
    }
