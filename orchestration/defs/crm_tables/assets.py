"""The serving layer's tables, written by the API and the worker (never by Dagster), declared as external assets
so lineage runs from them to the warehouse assets and the dbt marts."""

from __future__ import annotations

import dagster as dg

CRM_TABLES = {
    "contacts": "people the CRM talks to, created from channel identities and commerce data",
    "contact_identities": "channel identities (wa_id, Instagram / page scoped ids, commenters) of each contact",
    "messages": "inbound and outbound messages of every channel, with delivery status",
    "conversations": "threads per contact, channel and account, with their status and aggregates",
    "products": "the catalog the agent sells from and the content generator posts about",
    "orders": "orders from the shop, n8n or the chat (drafts)",
    "order_lines": "the lines of each order",
    "carts": "carts, open or abandoned",
    "invoices": "invoices with due and paid dates",
    "opportunities": "sales opportunities",
    "tickets": "escalations to a person",
    "intent_detections": "what each message asked for",
    "sentiment_analyses": "the tone of each message",
    "lead_classifications": "lead scores over time",
    "llm_calls": "every LLM provider call, with tokens and cost",
    "outbound_messages": "the outbox: every message we sent or tried to send",
    "label_feedback": "intent and sentiment labels people corrected, for NLU retraining",
    "content_posts": "the content calendar: posts for Instagram and the Facebook page, draft to published",
    "content_publications": "one row per post and channel, with Meta's id of the published post",
    "social_comments": "comments and mentions on our posts (Meta's webhooks), one row per comment and verb",
    "comment_actions": "what the comment auto-responder did for each comment (reply, DM, hide, escalate)",
}

crm_table_specs = [
    dg.AssetSpec(key=dg.AssetKey(["crm", table]), description=description, group_name="crm",
                 kinds={"postgres"}, metadata={"dagster/table_name": f"crm.{table}"})
    for table, description in CRM_TABLES.items()
]


@dg.definitions
def crm_tables() -> dg.Definitions:
    return dg.Definitions(assets=crm_table_specs)
