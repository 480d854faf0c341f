"""Meta's Graph API for sending: WhatsApp Cloud API (`/{phone-number-id}/messages`) and the Messenger /
Instagram Send API (`/{page-or-ig-id}/messages`); and for reading a WhatsApp Business Account's message
templates (`/{waba-id}/message_templates`). Base URL and version are settings, so the local Graph sandbox
(`crm sandbox`) stands in for Meta here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

# Rate limits and transient failures worth retrying (HTTP 429 / 5xx, and Graph's own throttling codes).
RETRYABLE_CODES = {4, 17, 32, 613, 80007, 130429, 131048, 131056, 131000, 133004}
WINDOW_CLOSED_CODES = {131047}
# Answers after which Meta may still have sent the message (429 and 503 mean it was refused before processing).
MAYBE_PROCESSED_STATUSES = {500, 502, 504}  # outside the 24-hour window: only a template may go
TEMPLATE_FIELDS = "name,language,status,category,components,id"
MAX_TEMPLATE_PAGES = 200  # 20,000 templates at 100 a page, far above Meta's limit: stops a cursor loop


class GraphError(Exception):
    """`maybe_sent`: the request may have reached Meta (a read timeout), so it must not simply be sent again."""

    def __init__(self, status: int, code: int | None, message: str, retryable: bool, maybe_sent: bool = False):
        super().__init__(f"Graph API {status} (code {code}): {message}")
        self.status, self.code, self.message, self.retryable = status, code, message, retryable
        self.maybe_sent = maybe_sent

    @property
    def window_closed(self) -> bool:
        return self.code in WINDOW_CLOSED_CODES


@dataclass(frozen=True)
class SendResult:
    external_id: str
    raw: dict[str, Any]


class GraphClient:
    def __init__(self, base_url: str, version: str, timeout_s: float = 10.0,
                 client: httpx.AsyncClient | None = None):
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send_whatsapp(self, phone_number_id: str, to: str, message: dict[str, Any], token: str | None,
                            callback_data: str | None = None) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message}
        if callback_data:
            body["biz_opaque_callback_data"] = callback_data  # echoed in status webhooks: proof it went out
        data = await self._post(f"/{phone_number_id}/messages", body, token)
        return SendResult(external_id=_sent_id(data, lambda d: d["messages"][0]["id"]), raw=data)

    async def send_messenger(self, account_id: str, recipient_id: str, message: dict[str, Any], token: str | None,
                             callback_data: str | None = None, tag: str | None = None) -> SendResult:
        """Messenger and Instagram share the Send API; `metadata` comes back in the echo webhook. Outside the
        24-hour window a person's answer may still go with the HUMAN_AGENT tag (7 days)."""
        if callback_data:
            message = {**message, "metadata": callback_data}
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "message": message,
                                "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE"}
        if tag:
            body["tag"] = tag
        data = await self._post(f"/{account_id}/messages", body, token)
        return SendResult(external_id=_sent_id(data, lambda d: d["message_id"]), raw=data)

    async def list_templates(self, business_account_id: str, token: str | None,
                             page_size: int = 100) -> list[dict[str, Any]]:
        """Every message template of a WhatsApp Business Account, in every status, all pages followed.

        Meta pages with cursors: `paging.next` is followed while it points at our own Graph base URL (the
        token travels with it, so never to another host); otherwise the `after` cursor is asked for there."""
        path = f"/{business_account_id}/message_templates"
        url, params = self._base + path, {"fields": TEMPLATE_FIELDS, "limit": str(page_size)}
        templates: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _ in range(MAX_TEMPLATE_PAGES):
            data = await self._get(url, token, params)
            templates.extend(data.get("data") or [])
            page = self._next_page(data.get("paging") or {}, path, params)
            if page is None:
                return templates
            url, params = page
            key = url + repr(sorted((params or {}).items()))
            if key in seen:
                break
            seen.add(key)
        raise GraphError(200, None, f"template paging of {business_account_id} did not end", retryable=False)

    def _next_page(self, paging: dict[str, Any], path: str,
                   params: dict[str, str]) -> tuple[str, dict[str, str] | None] | None:
        next_url = paging.get("next")
        if not next_url:
            return None  # Meta leaves `next` out on the last page
        if _origin(next_url) == _origin(self._base):
            return next_url, None  # the next URL already carries fields, limit and the cursor
        after = (paging.get("cursors") or {}).get("after")
        return (self._base + path, {**params, "after": after}) if after else None

    async def _get(self, url: str, token: str | None, params: dict[str, str] | None = None) -> dict[str, Any]:
        """A read: nothing changes at Meta, so every transport failure is safe to retry."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._client.get(url, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise GraphError(0, None, f"could not reach {'://'.join(_origin(url))}: {exc!r}",
                             retryable=True) from exc
        data = _json_or_raise(response)
        if not isinstance(data, dict):
            raise GraphError(response.status_code, None, f"unexpected answer: {response.text[:300]}",
                             retryable=False)
        return data

    async def _post(self, path: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._client.post(self._base + path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached Meta: safe to retry
            raise GraphError(0, None, f"could not connect: {exc}", retryable=True) from exc
        except httpx.TransportError as exc:  # sent, answer lost: Meta may have delivered it
            raise GraphError(0, None, f"no answer: {exc}", retryable=False, maybe_sent=True) from exc
        if response.status_code < 400:
            try:
                return response.json()
            except ValueError as exc:  # accepted, but we cannot read the id: treat as maybe sent
                raise GraphError(response.status_code, None, f"unreadable answer: {response.text[:300]}",
                                 retryable=False, maybe_sent=True) from exc
        error = _error(response)
        if response.status_code in MAYBE_PROCESSED_STATUSES:
            # A gateway error or "something went wrong" may come after Meta accepted the message: confirm it
            # from the webhooks before any new attempt, never resend blindly.
            error.maybe_sent, error.retryable = True, False
        raise error


def _sent_id(data: Any, pick: Any) -> str:
    """The message id in a 2xx answer; an answer without one may still mean the message went out."""
    try:
        return str(pick(data))
    except (KeyError, IndexError, TypeError) as exc:
        raise GraphError(200, None, f"no message id in the answer: {str(data)[:300]}", retryable=False,
                         maybe_sent=True) from exc


def _error(response: httpx.Response) -> GraphError:
    """Graph's error envelope (`{"error": {"code", "message"}}`) as a GraphError, retryable as Meta says."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    retryable = response.status_code == 429 or response.status_code >= 500 or code in RETRYABLE_CODES
    return GraphError(response.status_code, code, str(error.get("message") or response.text[:300]), retryable)


def _json_or_raise(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    try:
        return response.json()
    except ValueError as exc:
        raise GraphError(response.status_code, None, f"not JSON: {response.text[:300]}",
                         retryable=False) from exc


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


QuickReply = str | tuple[str, str]  # a title, or (id, title) when the answer must be recognised (csat_4)


def _options(quick_replies: list[QuickReply], prefix: str) -> list[tuple[str, str]]:
    return [(option if isinstance(option, tuple) else (f"{prefix}_{i}", option)) for i, option in
            enumerate(quick_replies)]


def whatsapp_message(text: str, quick_replies: list[QuickReply], list_button: str = "Ver opciones") -> dict[str, Any]:
    """Text; interactive reply buttons for up to 3 options (20 characters each); a list for 4 to 10 (24)."""
    if not quick_replies:
        return {"type": "text", "text": {"body": text[:4096], "preview_url": False}}
    options = _options(quick_replies, "qr")
    if len(options) <= 3:
        buttons = [{"type": "reply", "reply": {"id": oid, "title": title[:20]}} for oid, title in options]
        return {"type": "interactive", "interactive": {"type": "button", "body": {"text": text[:1024]},
                                                       "action": {"buttons": buttons}}}
    rows = [{"id": oid, "title": title[:24]} for oid, title in options[:10]]
    return {"type": "interactive", "interactive": {"type": "list", "body": {"text": text[:4096]},
                                                   "action": {"button": list_button[:20],
                                                              "sections": [{"title": list_button[:24],
                                                                            "rows": rows}]}}}


def messenger_message(text: str, quick_replies: list[QuickReply]) -> dict[str, Any]:
    """Text with up to 13 quick replies (Messenger and Instagram); the payload comes back when one is tapped."""
    message: dict[str, Any] = {"text": text[:2000]}
    if quick_replies:
        message["quick_replies"] = [{"content_type": "text", "title": title[:20], "payload": oid}
                                    for oid, title in _options(quick_replies, "QR")[:13]]
    return message


_UNSENDABLE_WHITESPACE = re.compile(r"[\n\r\t]+| {5,}")


class TemplateParameterError(ValueError):
    """A template parameter Meta would refuse (error 132000 / 131008): wrong count or empty text."""


def template_parameter_text(value: str) -> str:
    """Meta refuses body parameters with new lines, tabs or more than four spaces in a row, and empty ones:
    flattened here so what we store as sent is exactly what was sent."""
    text = _UNSENDABLE_WHITESPACE.sub(" ", str(value)).strip()
    if not text:
        raise TemplateParameterError("a template parameter cannot be empty")
    return text


def whatsapp_template_message(name: str, language: str, body_parameters: list[str]) -> dict[str, Any]:
    """An approved template: the only message WhatsApp delivers outside the 24-hour customer-service window.
    `body_parameters` fill {{1}}, {{2}}... of the BODY in order; no components when there are none."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if body_parameters:
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "text": template_parameter_text(value)} for value in body_parameters]}]
    return {"type": "template", "template": template}
