"""Turns one webhook body (already JSON-decoded) into a ParsedDelivery. Pure: no I/O, never raises on shape."""

from __future__ import annotations

from typing import Any

from serving.services.channels import facebook_page, instagram, whatsapp
from serving.services.channels.common import as_dict, as_id, as_list
from serving.services.channels.messenger import parse_messaging
from serving.services.ingest.events import ParsedDelivery

OBJECT_CHANNEL = {"page": "messenger", "instagram": "instagram"}
_WRAPPED_MESSAGING = ("messages", "messaging_postbacks", "message_reactions", "messaging_seen")


class InvalidPayload(ValueError):
    """The body is JSON but not a webhook object at all (a list, a string...)."""


def parse_webhook(body: Any) -> ParsedDelivery:
    if not isinstance(body, dict):
        raise InvalidPayload("expected a JSON object with an `entry` list")
    object_type = body.get("object") if isinstance(body.get("object"), str) else None
    entries = body.get("entry")
    if entries is None and "field" in body and "value" in body:
        # The app dashboard's "Test" button posts a bare change: {"field": ..., "value": ...}.
        entries = [{"changes": [body]}]
    delivery = ParsedDelivery(object_type=object_type or _guess_object(as_list(entries)))
    if entries is None:
        delivery.unparsed.append({"at": "$", "reason": "no entry list", "keys": sorted(body)[:20]})
        return delivery
    for index, entry in enumerate(as_list(entries)):
        if isinstance(entry, dict):
            _parse_entry(entry, delivery, f"entry[{index}]")
        else:
            delivery.unparsed.append({"at": f"entry[{index}]", "reason": "not an object"})
    return delivery


def _parse_entry(entry: dict[str, Any], delivery: ParsedDelivery, where: str) -> None:
    before = _total(delivery)
    _parse_entry_parts(entry, delivery, where)
    if _total(delivery) == before:
        keys = sorted(k for k in entry if k not in ("id", "time"))[:20]
        delivery.unparsed.append({"at": where, "object": delivery.object_type, "reason": "nothing recognised",
                                  "keys": keys})


def _total(delivery: ParsedDelivery) -> int:
    return (len(delivery.messages) + len(delivery.statuses) + len(delivery.comments) + len(delivery.feed)
            + len(delivery.leads) + len(delivery.unparsed))


def _parse_entry_parts(entry: dict[str, Any], delivery: ParsedDelivery, where: str) -> None:
    object_type = delivery.object_type
    account = as_id(entry.get("id")) or ""
    for key in ("messaging", "standby"):
        for index, event in enumerate(as_list(entry.get(key))):
            if not isinstance(event, dict):
                continue
            channel = OBJECT_CHANNEL.get(object_type or "") or _guess_messaging_channel(event)
            parse_messaging(event, channel, delivery, f"{where}.{key}[{index}]", standby=key == "standby")
    for index, change in enumerate(as_list(entry.get("changes"))):
        change = as_dict(change)
        at = f"{where}.changes[{index}]"
        if object_type == "whatsapp_business_account":
            whatsapp.parse_change(change, delivery, at)
        elif object_type == "instagram":
            instagram.parse_change(change, account, entry.get("time"), delivery, at)
        elif object_type == "page":
            facebook_page.parse_change(change, account, entry.get("time"), delivery, at)
        else:
            delivery.unparsed.append({"at": at, "object": object_type, "reason": "object not handled"})


def _guess_object(entries: list[Any]) -> str | None:
    """Some senders omit `object`; the shape of the first entry tells which product it came from."""
    for entry in entries:
        entry = as_dict(entry)
        for change in as_list(entry.get("changes")):
            change = as_dict(change)
            value = as_dict(change.get("value"))
            if value.get("messaging_product") == "whatsapp":
                return "whatsapp_business_account"
            if change.get("field") in ("comments", "mentions", "live_comments"):
                return "instagram"
            if change.get("field") in _WRAPPED_MESSAGING and "sender" in value and "recipient" in value:
                return "instagram"  # the Test button / Instagram-login apps wrap messaging in `changes`
            if change.get("field") in ("feed", "leadgen"):
                return "page"
        for key in ("messaging", "standby"):
            for event in as_list(entry.get(key)):
                return "page" if _guess_messaging_channel(as_dict(event)) == "messenger" else "instagram"
    return None


def _guess_messaging_channel(event: dict[str, Any]) -> str:
    """Messenger mids start with `m_` / `mid.`; anything else without an `object` is Instagram."""
    mid = str(as_dict(event.get("message")).get("mid") or "")
    return "messenger" if mid.startswith(("m_", "mid.")) else "instagram"
