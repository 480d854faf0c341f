"""Privacy over HTTP (issue 9): forget a person, export what is held about them, record consent, and Meta's
data-deletion callback with its public status page (the callback is authenticated by Meta's signed request, the
status page is what Meta shows the person: both are open, like the webhook)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select

from crm.db.models import Contact, ErasureRequest
from serving.deps import AdminKey, SessionDep, SettingsDep
from serving.schemas.privacy import ConsentIn, ConsentOut, DeletionCallbackOut, DeletionStatusOut, ErasureOut
from serving.services import consent
from serving.services.media.storage import store_from_settings
from serving.services.privacy.erasure import NothingToForget, find_contacts, forget, new_code
from serving.services.privacy.export import export_person
from serving.services.privacy.meta_deletion import BadSignedRequest, parse_signed_request
from serving.services.retention import delete_unused_files

router = APIRouter(tags=["privacy"])


@router.delete("/contacts/{contact_id}", response_model=ErasureOut)
async def forget_contact(contact_id: int, session: SessionDep, settings: SettingsDep, _: AdminKey,
                         include_duplicates: bool = False) -> ErasureOut:
    """Removes the person's personal data everywhere (crm, raw bodies, media, warehouse and marts); anonymous
    aggregates stay. The person: this contact and those with the same phone or email; `include_duplicates` adds
    the contacts deduplication merged with it. Answers what was removed, and any column still holding an
    identifier (should be none)."""
    store = store_from_settings(settings)
    try:
        report = await forget(session, store, await find_contacts(session, contact_id=contact_id), source="api",
                              include_cluster=include_duplicates)
    except NothingToForget as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}") from exc
    await session.commit()
    await delete_unused_files(session, store, report.files)
    await session.commit()
    return ErasureOut(confirmation_code=report.confirmation_code, contact_ids=report.contact_ids,
                      removed={k: v for k, v in report.removed.items() if v}, residue=report.residue)


@router.get("/contacts/{contact_id}/export")
async def export_contact(contact_id: int, session: SessionDep, _: AdminKey,
                         include_duplicates: bool = False) -> dict[str, Any]:
    """Everything held about the person, as JSON."""
    try:
        return await export_person(session, contact_id, include_duplicates)
    except NothingToForget as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/contacts/{contact_id}/consent", response_model=ConsentOut, status_code=status.HTTP_201_CREATED)
async def record_consent(contact_id: int, body: ConsentIn, session: SessionDep, settings: SettingsDep,
                         _: AdminKey) -> ConsentOut:
    """An opt-in or opt-out given outside the chat (a form, the shop, a call)."""
    contact = await session.get(Contact, contact_id)
    if contact is None or (contact.attributes or {}).get("erased_at"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    event = await consent.record(session, contact, body.kind, source=body.source, scope=body.scope,
                                 channel=body.channel, evidence=body.evidence,
                                 occurred_at=body.occurred_at or datetime.now(UTC))
    allowed, _why = await consent.may_market(session, contact, settings)
    answer = ConsentOut(contact_id=contact_id, kind=event.kind, scope=event.scope, channel=event.channel,
                        source=event.source, occurred_at=event.occurred_at, may_receive_marketing=allowed)
    await session.commit()
    return answer


@router.post("/meta/data-deletion", response_model=DeletionCallbackOut)
async def meta_data_deletion(request: Request, session: SessionDep, settings: SettingsDep) -> DeletionCallbackOut:
    """Meta's data-deletion request callback (App Dashboard → Data deletion request URL): a form POST with
    `signed_request`."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    signed_request = (fields.get("signed_request") or [""])[0]
    try:
        payload = parse_signed_request(signed_request, settings.meta_app_secret)
    except BadSignedRequest as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    erasure = ErasureRequest(confirmation_code=new_code(), source="meta")
    contact_ids = await find_contacts(session, external_id=str(payload["user_id"]))
    store, files = store_from_settings(settings), []
    if contact_ids:
        files = (await forget(session, store, contact_ids, source="meta", request=erasure)).files
    else:  # nothing held about them: still a request, answered and on record
        erasure.status, erasure.completed_at = "not_found", datetime.now(UTC)
        session.add(erasure)
    await session.commit()
    await delete_unused_files(session, store, files)
    await session.commit()
    base = settings.public_base_url or str(request.base_url).rstrip("/")
    return DeletionCallbackOut(url=f"{base.rstrip('/')}/api/v1/meta/data-deletion/{erasure.confirmation_code}",
                               confirmation_code=erasure.confirmation_code)


@router.get("/meta/data-deletion/{code}", response_model=DeletionStatusOut)
async def meta_data_deletion_status(code: str, session: SessionDep) -> DeletionStatusOut:
    """The status page a person reaches from Facebook with their confirmation code."""
    erasure = (await session.scalars(select(ErasureRequest).where(ErasureRequest.confirmation_code == code))).first()
    if erasure is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown confirmation code")
    return DeletionStatusOut(confirmation_code=code, status=erasure.status, requested_at=erasure.requested_at,
                             completed_at=erasure.completed_at)
