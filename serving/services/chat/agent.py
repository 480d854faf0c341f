"""The agent's turn in the worker: compose a grounded reply to an inbound message and queue it in the outbox.

Only conversations the routing matrix leaves to the bot get an automatic reply; human routes wait for the
escalation flow, auto_reject gets nothing; a paused bot gets nothing either. An opted-out contact still gets
direct replies to what they write: opting out concerns follow-ups and campaigns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, Message, OutboundMessage
from serving.services import catalog
from serving.services.chat.facts import ProductFact
from serving.services.chat.responder import respond, search_text, update_state
from serving.services.chat.state import DialogueState
from serving.services.outbox import queue_reply
from serving.services.understanding import Understood

BOT_ROUTES = {"chatbot"}


def _bot_answers(understood: Understood, state: DialogueState) -> bool:
    route = understood.routing.destination
    if route in BOT_ROUTES:
        return True
    return (route == "auto_reject" and state.turns > 0
            and understood.intent.confidence < SPAM_IN_DIALOGUE_CONFIDENCE)


# A customer answering the bot's own question is not spam, even when a short answer ("web, hasta $1200") looks
# like it to the classifier: below this confidence, an ongoing dialogue goes on.
SPAM_IN_DIALOGUE_CONFIDENCE = 0.9


async def reply_to(session: AsyncSession, understood: Understood, message: Message, contact: Contact,
                   conversation: Conversation) -> OutboundMessage | None:
    state = DialogueState.from_json(conversation.agent_state)
    if conversation.bot_paused or not _bot_answers(understood, state):
        return None
    text = message.text or ""
    update_state(state, text, understood.intent, contact.language or understood.language)
    found = await catalog.search_products(session, search_text(state) or text, limit=8)
    candidates = [ProductFact(p.sku, p.name, p.price, p.currency, p.stock, p.description or "", p.category,
                              p.attributes or {}) for p, _ in found]
    policies = await catalog.get_policies(session)
    reply = respond(state, text, understood.intent, candidates, policies)
    conversation.agent_state = reply.state.to_json()
    return await queue_reply(session, conversation=conversation, contact_id=contact.id, in_reply_to=message,
                             text_body=reply.text, quick_replies=reply.quick_replies)
