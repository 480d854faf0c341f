"""Meta's Graph API for sending: WhatsApp Cloud API (`/{phone-number-id}/messages`) and the Messenger /
Instagram Send API (`/{page-or-ig-id}/messages`). Base URL and version are settings, so the local Graph sandbox
(`crm sandbox`) stands in for Meta here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# Rate limits and transient failures worth retrying (HTTP 429 / 5xx, and Graph's own throttling codes).
RETRYABLE_CODES = {4, 17, 32, 613, 80007, 130429, 131048, 131056, 131000, 133004}
WINDOW_CLOSED_CODES = {131047}  # outside the 24-hour window: only a template may go


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
        return SendResult(external_id=data["messages"][0]["id"], raw=data)

    async def send_messenger(self, account_id: str, recipient_id: str, message: dict[str, Any], token: str | None,
                             callback_data: str | None = None) -> SendResult:
        """Messenger and Instagram share the Send API; `metadata` comes back in the echo webhook."""
        if callback_data:
            message = {**message, "metadata": callback_data}
        body = {"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE", "message": message}
        data = await self._post(f"/{account_id}/messages", body, token)
        return SendResult(external_id=data["message_id"], raw=data)

    async def _post(self, path: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._client.post(self._base + path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached Meta: safe to retry
            raise GraphError(0, None, f"could not connect: {exc}", retryable=True) from exc
        except httpx.TransportError as exc:  # sent, answer lost: Meta may have delivered it
            raise GraphError(0, None, f"no answer: {exc}", retryable=False, maybe_sent=True) from exc
        if response.status_code < 400:
            return response.json()
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        code = error.get("code")
        retryable = response.status_code == 429 or response.status_code >= 500 or code in RETRYABLE_CODES
        raise GraphError(response.status_code, code, str(error.get("message") or response.text[:300]), retryable)


def whatsapp_message(text: str, quick_replies: list[str]) -> dict[str, Any]:
    """Text, or interactive reply buttons (WhatsApp allows 3 buttons of 20 characters)."""
    if not quick_replies:
        return {"type": "text", "text": {"body": text[:4096], "preview_url": False}}
    buttons = [{"type": "reply", "reply": {"id": f"qr_{i}", "title": label[:20]}}
               for i, label in enumerate(quick_replies[:3])]
    return {"type": "interactive", "interactive": {"type": "button", "body": {"text": text[:1024]},
                                                   "action": {"buttons": buttons}}}


def messenger_message(text: str, quick_replies: list[str]) -> dict[str, Any]:
    message: dict[str, Any] = {"text": text[:2000]}
    if quick_replies:
        message["quick_replies"] = [{"content_type": "text", "title": label[:20], "payload": f"QR_{i}"}
                                    for i, label in enumerate(quick_replies[:13])]
    return message
