"""WhatsApp Cloud API webhooks: `entry[].changes[]` with field `messages` (messages, statuses, errors)."""

from __future__ import annotations

from typing import Any

from serving.services.channels.common import (
    as_dict,
    as_id,
    as_list,
    as_time,
    fingerprint,
    pg_safe,
    text_or_none,
)
from serving.services.ingest.events import MessageEvent, ParsedDelivery, StatusEvent

CHANNEL = "whatsapp"
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker", "voice")


def parse_change(change: dict[str, Any], delivery: ParsedDelivery, where: str) -> None:
    field = change.get("field")
    value = as_dict(change.get("value"))
    if field not in (None, "messages") or not value:
        delivery.unparsed.append({"at": where, "field": field, "reason": "field not handled"})
        return
    account = as_id(as_dict(value.get("metadata")).get("phone_number_id")) or ""
    profiles = _profiles_by_wa_id(value)
    for index, message in enumerate(as_list(value.get("messages"))):
        if isinstance(message, dict):
            delivery.messages.append(_message(message, account, profiles))
        else:
            delivery.unparsed.append({"at": f"{where}.messages[{index}]", "reason": "not an object"})
    for status in as_list(value.get("statuses")):
        if isinstance(status, dict):
            delivery.statuses.append(_status(status, account))
    if value.get("errors"):
        # Errors at the value level concern the whole number (throttling, expired tokens...): kept, not lost.
        delivery.unparsed.append({"at": where, "field": "errors", "errors": pg_safe(value["errors"])})


def _profiles_by_wa_id(value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    profiles: dict[str, dict[str, Any]] = {}
    for contact in as_list(value.get("contacts")):
        contact = as_dict(contact)
        wa_id = as_id(contact.get("wa_id"))
        profile = {
            "name": text_or_none(as_dict(contact.get("profile")).get("name")),
            "wa_id": wa_id,
            "user_id": as_id(contact.get("user_id")),
            "parent_user_id": as_id(contact.get("parent_user_id")),
        }
        profiles[wa_id or as_id(contact.get("user_id")) or ""] = {k: v for k, v in profile.items() if v}
    return profiles


def _message(message: dict[str, Any], account: str, profiles: dict[str, dict[str, Any]]) -> MessageEvent:
    sender = as_id(message.get("from")) or as_id(message.get("from_user_id")) or ""
    external_id = as_id(message.get("id"))
    kind = text_or_none(message.get("type")) or "unknown"
    profile = profiles.get(sender) or (next(iter(profiles.values())) if len(profiles) == 1 else {})
    if not profile.get("wa_id") and sender and not sender.startswith("US."):
        profile = {**profile, "wa_id": sender}
    event = MessageEvent(
        channel=CHANNEL,
        dedup_key=external_id or f"synthetic:{fingerprint(account, message)}",
        external_id=external_id,
        direction="inbound",
        message_type=kind,
        counterpart_external_id=sender,
        account_external_id=account,
        sender_profile=profile,
        sent_at=as_time(message.get("timestamp")),
        errors=pg_safe(message["errors"]) if message.get("errors") else None,
    )
    context = as_dict(message.get("context"))
    if context:
        event.context = pg_safe(context)
        event.reply_to_external_id = as_id(context.get("id"))
    if referral := message.get("referral"):
        event.referral = pg_safe(as_dict(referral))
    _fill_content(event, kind, message)
    return event


def _fill_content(event: MessageEvent, kind: str, message: dict[str, Any]) -> None:
    body = as_dict(message.get(kind))
    if kind == "text":
        event.text = text_or_none(body.get("body"))
    elif kind in MEDIA_TYPES:
        event.media = [_media(kind, body)]
        event.text = text_or_none(body.get("caption"))
    elif kind == "location":
        event.payload = {"location": pg_safe(body)}
        event.text = text_or_none(body.get("name") or body.get("address"))
    elif kind == "contacts":
        event.payload = {"contacts": pg_safe(as_list(message.get("contacts")))}
    elif kind == "interactive":
        reply_type = text_or_none(body.get("type")) or "unknown"
        reply = as_dict(body.get(reply_type))
        event.payload = {"interactive": {"type": reply_type, **pg_safe(reply)}}
        event.text = text_or_none(reply.get("title") or reply.get("body"))
    elif kind == "button":
        event.payload = {"button": pg_safe(body)}
        event.text = text_or_none(body.get("text"))
    elif kind == "reaction":
        event.reply_to_external_id = as_id(body.get("message_id"))
        emoji = text_or_none(body.get("emoji"))
        event.text = emoji or None
        event.payload = {"reaction": {"emoji": emoji or "", "action": "react" if emoji else "unreact"}}
    elif kind == "order":
        event.payload = {"order": pg_safe(body)}
        event.text = text_or_none(body.get("text"))
    elif kind == "system":
        event.payload = {"system": pg_safe(body)}
        event.text = text_or_none(body.get("body"))
    elif body:
        event.payload = {kind: pg_safe(body)}


def _media(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    media = {
        "type": "audio" if kind == "voice" else kind,
        "media_id": as_id(body.get("id")),
        "mime_type": text_or_none(body.get("mime_type")),
        "sha256": text_or_none(body.get("sha256")),
        "filename": text_or_none(body.get("filename")),
        "url": text_or_none(body.get("url")),
        "voice": bool(body.get("voice")) or kind == "voice" or None,
        "animated": body.get("animated"),
    }
    return {key: value for key, value in media.items() if value is not None}


def _status(status: dict[str, Any], account: str) -> StatusEvent:
    message_id = as_id(status.get("id"))
    state = (text_or_none(status.get("status")) or "unknown").lower()
    details = {
        key: pg_safe(status[key])
        for key in ("conversation", "pricing", "biz_opaque_callback_data", "recipient_user_id", "type")
        if key in status
    }
    return StatusEvent(
        channel=CHANNEL,
        dedup_key=f"{message_id}:{state}" if message_id else f"synthetic:{fingerprint(account, status)}",
        status=state,
        external_message_id=message_id,
        occurred_at=as_time(status.get("timestamp")),
        account_external_id=account,
        counterpart_external_id=as_id(status.get("recipient_id")) or as_id(status.get("recipient_user_id")),
        errors=pg_safe(status["errors"]) if status.get("errors") else None,
        details=details,
    )
