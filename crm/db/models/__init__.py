"""SQLAlchemy models of the `crm` schema, one module per domain. Import them all here so Alembic sees them."""

from crm.db.base import Base
from crm.db.models.auth import ApiKey
from crm.db.models.automation import AutomationEvent
from crm.db.models.catalog import Faq, Policy
from crm.db.models.channels import ChannelAccount
from crm.db.models.commerce import Cart, CartItem, Invoice, Opportunity, Order, OrderLine, Product
from crm.db.models.contacts import Contact, ContactIdentity
from crm.db.models.content import CommentAction, ContentPost, ContentPublication
from crm.db.models.privacy import ConsentEvent, ErasureRequest, MediaAttachment
from crm.db.models.conversations import Conversation
from crm.db.models.outbound import OutboundMessage
from crm.db.models.support import Agent, Ticket
from crm.db.models.templates import WhatsappTemplate
from crm.db.models.nlu import (
    IntentDetection,
    LabelFeedback,
    LeadClassification,
    LlmCall,
    RoutingRecord,
    SentimentAnalysis,
)
from crm.db.models.ingest import (
    LeadAdSubmission,
    Message,
    MessageStatusEvent,
    PageFeedEvent,
    RawWebhookEvent,
    SocialComment,
)

__all__ = [
    "Agent",
    "Ticket",
    "WhatsappTemplate",
    "ApiKey",
    "AutomationEvent",
    "Base",
    "Cart",
    "CartItem",
    "ChannelAccount",
    "Contact",
    "CommentAction",
    "ConsentEvent",
    "ContentPost",
    "ContentPublication",
    "ErasureRequest",
    "MediaAttachment",
    "Faq",
    "Policy",
    "ContactIdentity",
    "Conversation",
    "IntentDetection",
    "Invoice",
    "LeadClassification",
    "LabelFeedback",
    "LlmCall",
    "RoutingRecord",
    "SentimentAnalysis",
    "LeadAdSubmission",
    "Message",
    "MessageStatusEvent",
    "Opportunity",
    "Order",
    "OutboundMessage",
    "OrderLine",
    "PageFeedEvent",
    "Product",
    "RawWebhookEvent",
    "SocialComment",
]
