"""Meta's customer-service window: free-form messages may go only within 24 hours of the customer's last message.
Outside it WhatsApp takes only approved templates, and Messenger / Instagram only a person's answer tagged
HUMAN_AGENT (within 7 days). Pure functions; the outbox and the agent API apply them."""

from __future__ import annotations

from datetime import datetime, timedelta

SERVICE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_TAG_WINDOW = timedelta(days=7)


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW


def window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    return last_inbound_at + SERVICE_WINDOW if last_inbound_at is not None else None


def human_agent_tag_allowed(channel: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Messenger / Instagram: a person may answer up to 7 days after the customer's last message."""
    return (channel in ("messenger", "instagram") and last_inbound_at is not None
            and now - last_inbound_at < HUMAN_AGENT_TAG_WINDOW)
