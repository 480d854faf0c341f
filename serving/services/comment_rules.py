"""What the comment auto-responder does with one comment (flow 17): a pure decision, and the words it uses.

- Questions get a public reply (others with the same question read it).
- Purchase or pricing intent gets a private reply: a direct message that opens a conversation, so the buyer is
  answered where the bot can sell and the contact becomes a scored lead. Meta allows one private reply per comment,
  within 7 days of it; older ones get a public reply instead.
- Spam (the NLU's `spam` intent, links, follow-for-follow) and abuse are hidden, not deleted: the author still sees
  them, nobody else does.
- Complaints (and angry, urgent comments) go to a person: a private apology opens the conversation a ticket is
  raised on, so the complaint leaves the public thread.
- Our own comments, edits, removals, mentions, comments without text and plain praise are left alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

PRIVATE_REPLY_WINDOW = timedelta(days=7)
BUYING_INTENTS = {"purchase_inquiry", "pricing_question"}
COMPLAINT_INTENTS = {"complaint", "refund_request", "warranty_claim"}
SERVICE_INTENTS = {"delivery_tracking", "support_request"}
QUESTION_INTENTS = {"product_info", "delivery_tracking", "support_request", "general_inquiry", "partnership"}
_LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:com|net|xyz|io|ly|link|shop)\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_FOLLOW_SPAM = re.compile(r"\b(?:follow ?(?:me|back|for follow)|f4f|sigueme|check my (?:page|profile)|"
                          r"mira mi perfil|gana dinero desde|earn money (?:from|at) home|onlyfans)\b")
# Insults, in both languages: hidden unless the comment is also a complaint (then a person reads it).
_ABUSE = re.compile(r"\b(?:idiotas?|imbeciles|imbecil|estupid[oa]s?|pendej[oa]s?|mierda|put[oa]s?|malparid[oa]s?|"
                    r"hijueputa|cabron(?:es)?|fuck(?:ing)?|shit|idiots?|stupid|asshole|bitch|moron)\b")
_QUESTION = re.compile(r"[?¿]|\b(?:cuanto|cuando|donde|tienen|hay|hacen|puedo|se puede|aceptan|info|"
                       r"informacion|detalles|disponible|how|when|where|what|do you|can i|is there|are there|"
                       r"details|available)\b")


@dataclass(frozen=True)
class CommentFacts:
    channel: str
    verb: str
    kind: str
    text: str | None
    has_id: bool
    from_own_account: bool
    created_time: datetime | None
    live: bool = False  # a live video's comment: Meta allows no public reply, only a private one
    known_account: bool = True  # the page / Instagram account is one of ours (not a dashboard test, not disabled)


@dataclass(frozen=True)
class CommentSignals:
    intent: str
    sentiment: str
    urgency: str
    lead_score: int


@dataclass(frozen=True)
class Decision:
    action: str  # public_reply | private_reply | hide | escalate | none
    reason: str


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def skip_reason(comment: CommentFacts, enabled: bool) -> str | None:
    """Why a comment gets no action at all, before any NLU is spent on it."""
    if not enabled:
        return "auto-responder disabled"
    if not comment.known_account:
        return "not one of our active accounts"
    if comment.from_own_account:
        return "our own comment"
    if comment.kind != "comment" or comment.verb != "add":
        return f"{comment.kind} {comment.verb}"
    if not comment.has_id:
        return "no comment id to answer"
    if not (comment.text or "").strip():
        return "no text"
    return None


def decide(comment: CommentFacts, signals: CommentSignals, now: datetime) -> Decision:
    decision = _decide(comment, signals, now)
    if comment.live and decision.action == "public_reply":  # no public replies on a live video
        return Decision("private_reply", decision.reason + " (live video: answered privately)")
    return decision


def _decide(comment: CommentFacts, signals: CommentSignals, now: datetime) -> Decision:
    folded = fold(comment.text or "")
    buying = signals.intent in BUYING_INTENTS
    # A link or a follow-for-follow line hides the comment unless the NLU reads a buyer in it ("precio? lo vi en
    # tienda.shop"); an email address is a customer giving their contact, not a link.
    looks_spammy = bool(_LINK.search(_EMAIL.sub(" ", folded)) or _FOLLOW_SPAM.search(folded))
    if signals.intent == "spam" or (looks_spammy and not buying):
        return Decision("hide", "spam")
    # A problem with an order said angrily in public is a complaint, whatever the intent model calls it.
    complaint = signals.intent in COMPLAINT_INTENTS or (signals.sentiment == "negative" and (
        signals.urgency in ("high", "critical") or signals.intent in SERVICE_INTENTS))
    if _ABUSE.search(folded) and not complaint:
        return Decision("hide", "abuse")
    private_allowed = comment.created_time is None or now - comment.created_time <= PRIVATE_REPLY_WINDOW
    if complaint:
        return Decision("escalate", f"complaint ({signals.intent})" if private_allowed else
                        "complaint (too old for a private reply: a person answers in public)")
    if buying:
        if private_allowed:
            return Decision("private_reply", f"buying intent ({signals.intent})")
        return Decision("public_reply", "buying intent, too old for a private reply")
    if signals.intent in QUESTION_INTENTS and _QUESTION.search(folded):
        return Decision("public_reply", f"question ({signals.intent})")
    return Decision("none", f"nothing to answer ({signals.intent}, {signals.sentiment})")


@dataclass(frozen=True)
class ProductFacts:
    name: str
    price: str  # formatted with its currency
    in_stock: bool


def _greeting(name: str | None, es: bool) -> str:
    first = (name or "").split()[0] if name and name.strip() else ""
    first = first.lstrip("@")
    if es:
        return f"¡Hola {first}!" if first else "¡Hola!"
    return f"Hi {first}!" if first else "Hi!"


def private_reply_text(name: str | None, product: ProductFacts | None, es: bool) -> str:
    """The first direct message to a buyer: the catalog's price when the post is about one product."""
    hello = _greeting(name, es)
    if product is not None and es:
        stock = "Lo tenemos disponible" if product.in_stock else "Ahora mismo está agotado, pero te avisamos"
        return (f"{hello} Gracias por tu comentario. {product.name} cuesta {product.price}. {stock}. "
                "¿Quieres que te lo apartemos o te cuento más?")
    if product is not None:
        stock = "It's in stock" if product.in_stock else "It's sold out right now, but we can let you know"
        return (f"{hello} Thanks for your comment. {product.name} is {product.price}. {stock}. "
                "Shall we put one aside for you, or would you like to know more?")
    if es:
        return f"{hello} Gracias por tu comentario. Te escribimos por aquí para darte precios y disponibilidad: ¿qué producto te interesa?"
    return f"{hello} Thanks for your comment. We're writing here to give you prices and availability: which product are you interested in?"


def apology_text(name: str | None, es: bool) -> str:
    hello = _greeting(name, es)
    if es:
        return (f"{hello} Lamentamos lo ocurrido. Una persona de nuestro equipo revisa tu caso y te escribe por "
                "aquí en breve. ¿Nos compartes tu número de pedido?")
    return (f"{hello} We're sorry about this. Someone from our team is looking into it and will write to you "
            "here shortly. Could you share your order number?")


def public_reply_text(name: str | None, answer: str | None, product: ProductFacts | None, es: bool) -> str:
    """A short public answer: the policy or catalog fact when there is one, and an invitation to a DM."""
    hello = _greeting(name, es)
    if answer:
        tail = " Si necesitas algo más, escríbenos por mensaje directo." if es else \
            " If you need anything else, send us a direct message."
        return f"{hello} {answer}{tail}"
    if product is not None:
        if es:
            return (f"{hello} Sí, {product.name} {'está disponible' if product.in_stock else 'vuelve pronto'}. "
                    "Escríbenos por mensaje directo y te damos todos los detalles.")
        return (f"{hello} Yes, {product.name} {'is available' if product.in_stock else 'is coming back soon'}. "
                "Send us a direct message and we'll give you all the details.")
    if es:
        return f"{hello} Gracias por tu pregunta. Escríbenos por mensaje directo y te respondemos al momento."
    return f"{hello} Thanks for your question. Send us a direct message and we'll answer right away."
