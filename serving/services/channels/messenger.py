"""Messenger Platform events (`entry[].messaging[]` and `standby[]`), shared by Facebook Messenger and
Instagram messaging, which use the same shapes."""

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

# Keys of a messaging event that carry no content of their own.
_ENVELOPE = {"sender", "recipient", "timestamp"}


def parse_messaging(event: dict[str, Any], channel: str, delivery: ParsedDelivery, where: str,
                    standby: bool = False) -> None:
    sender = as_id(as_dict(event.get("sender")).get("id")) or ""
    recipient = as_id(as_dict(event.get("recipient")).get("id")) or ""
    timestamp = as_time(event.get("timestamp"))
    message = as_dict(event.get("message"))
    if message:
        if message.get("is_deleted"):
            delivery.statuses.append(_status(channel, "deleted", message, sender, recipient, timestamp))
        else:
            delivery.messages.append(_message(channel, message, sender, recipient, timestamp, standby))
        return
    if "postback" in event:
        delivery.messages.append(_postback(channel, as_dict(event["postback"]), sender, recipient, timestamp))
    elif "reaction" in event:
        delivery.messages.append(_reaction(channel, as_dict(event["reaction"]), sender, recipient, timestamp))
    elif "read" in event:
        delivery.statuses.append(_status(channel, "read", as_dict(event["read"]), sender, recipient, timestamp))
    elif "delivery" in event:
        receipt = as_dict(event["delivery"])
        mids = [as_id(mid) for mid in as_list(receipt.get("mids")) if as_id(mid)]
        if mids:
            for mid in mids:
                delivery.statuses.append(
                    _status(channel, "delivered", {"mid": mid}, sender, recipient, timestamp)
                )
        else:
            delivery.statuses.append(_status(channel, "delivered", receipt, sender, recipient, timestamp))
    elif "referral" in event or "optin" in event or "message_edit" in event:
        kind = next(k for k in ("referral", "optin", "message_edit") if k in event)
        delivery.messages.append(_other(channel, kind, as_dict(event[kind]), sender, recipient, timestamp))
    else:
        keys = sorted(set(event) - _ENVELOPE)
        delivery.unparsed.append({"at": where, "reason": "messaging event not handled", "keys": keys})


def _base(channel: str, dedup_key: str, external_id: str | None, message_type: str, sender: str,
          recipient: str, timestamp: Any, echo: bool = False) -> MessageEvent:
    return MessageEvent(
        channel=channel,
        dedup_key=dedup_key,
        external_id=external_id,
        direction="outbound" if echo else "inbound",
        message_type=message_type,
        counterpart_external_id=recipient if echo else sender,
        account_external_id=sender if echo else recipient,
        sent_at=timestamp,
        is_echo=echo,
    )


def _message(channel: str, message: dict[str, Any], sender: str, recipient: str, timestamp: Any,
             standby: bool) -> MessageEvent:
    mid = as_id(message.get("mid"))
    echo = bool(message.get("is_echo"))
    attachments = [as_dict(a) for a in as_list(message.get("attachments"))]
    text = text_or_none(message.get("text"))
    if message.get("quick_reply"):
        kind = "quick_reply"
    elif text is not None:
        kind = "text"
    elif attachments:
        kind = text_or_none(attachments[0].get("type")) or "attachment"
    elif message.get("is_unsupported"):
        kind = "unsupported"
    else:
        kind = "unknown"
    event = _base(channel, mid or f"synthetic:{fingerprint(sender, recipient, message)}", mid, kind,
                  sender, recipient, timestamp, echo)
    event.text = text
    event.media = [_attachment(a) for a in attachments]
    payload: dict[str, Any] = {}
    if quick := message.get("quick_reply"):
        payload["quick_reply"] = pg_safe(quick)
    if standby:
        payload["standby"] = True
    if message.get("app_id"):
        payload["app_id"] = as_id(message.get("app_id"))
    if message.get("metadata"):
        payload["metadata"] = text_or_none(message.get("metadata"))
    event.payload = payload
    reply_to = as_dict(message.get("reply_to"))
    if reply_to:
        event.context = pg_safe(reply_to)
        event.reply_to_external_id = as_id(reply_to.get("mid"))
    if referral := message.get("referral"):
        event.referral = pg_safe(as_dict(referral))
    return event


def _attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    payload = as_dict(attachment.get("payload"))
    media = {
        "type": text_or_none(attachment.get("type")) or "unknown",
        "url": text_or_none(payload.get("url")),
        "title": text_or_none(payload.get("title") or attachment.get("title")),
        "media_id": as_id(payload.get("reel_video_id") or payload.get("id") or payload.get("attachment_id")),
        "sticker_id": as_id(payload.get("sticker_id")),
    }
    media = {key: value for key, value in media.items() if value is not None}
    extra = {k: v for k, v in payload.items() if k not in ("url", "title", "reel_video_id", "id", "sticker_id")}
    if extra:
        media["payload"] = pg_safe(extra)
    return media


def _postback(channel: str, postback: dict[str, Any], sender: str, recipient: str,
              timestamp: Any) -> MessageEvent:
    mid = as_id(postback.get("mid"))
    key = mid or f"postback:{fingerprint(sender, recipient, timestamp, postback)}"
    event = _base(channel, key, mid, "postback", sender, recipient, timestamp)
    event.text = text_or_none(postback.get("title"))
    event.payload = {"postback": pg_safe(postback)}
    if referral := postback.get("referral"):
        event.referral = pg_safe(as_dict(referral))
    return event


def _reaction(channel: str, reaction: dict[str, Any], sender: str, recipient: str,
              timestamp: Any) -> MessageEvent:
    target = as_id(reaction.get("mid"))
    action = text_or_none(reaction.get("action")) or "react"
    key = f"reaction:{fingerprint(target, sender, action, reaction.get('reaction'), timestamp)}"
    event = _base(channel, key, None, "reaction", sender, recipient, timestamp)
    event.reply_to_external_id = target
    event.text = text_or_none(reaction.get("emoji")) if action == "react" else None
    event.payload = {"reaction": pg_safe(reaction)}
    return event


def _other(channel: str, kind: str, body: dict[str, Any], sender: str, recipient: str,
           timestamp: Any) -> MessageEvent:
    mid = as_id(body.get("mid")) if kind == "message_edit" else None
    key = f"{kind}:{fingerprint(mid, sender, recipient, timestamp, body)}"
    event = _base(channel, key, None, kind, sender, recipient, timestamp)
    if kind == "referral":
        event.referral = pg_safe(body)
    else:
        event.payload = {kind: pg_safe(body)}
        event.reply_to_external_id = mid
        event.text = text_or_none(body.get("text"))
    return event


def _status(channel: str, state: str, body: dict[str, Any], sender: str, recipient: str,
            timestamp: Any) -> StatusEvent:
    """Receipts from the customer's side: `sender` is the customer, the message was ours (or theirs, for
    `deleted`)."""
    mid = as_id(body.get("mid"))
    watermark = as_time(body.get("watermark"))
    if mid:
        key = f"{mid}:{state}"
    elif watermark is not None:
        key = f"watermark:{sender}:{body.get('watermark')}:{state}"
    else:
        key = f"synthetic:{fingerprint(sender, recipient, state, timestamp, body)}"
    return StatusEvent(
        channel=channel,
        dedup_key=key,
        status=state,
        external_message_id=mid,
        occurred_at=timestamp,
        watermark=watermark,
        account_external_id=recipient,
        counterpart_external_id=sender,
    )
