"""The knowledge the agent answers from, besides products: store policies and FAQs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Text, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin


class Policy(Base):
    """One policy by key (shipping, returns, warranty, payment_methods, business_hours, coverage, currency, ...);
    the value keeps the shape it had in policies.yaml."""

    __tablename__ = "policies"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class Faq(IdMixin, Base):
    __tablename__ = "faqs"

    question: Mapped[str] = mapped_column(Text, unique=True)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text, server_default="es")
    tags: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
