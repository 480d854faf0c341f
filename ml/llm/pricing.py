"""Estimated cost of a call from its token counts, so every record carries a number finance can sum.

Prices are list prices in USD per 1M tokens (input, output), standard tier, no caching discounts; update the
table when providers change them. An unknown model gives None rather than a wrong number.
"""

from __future__ import annotations

import re

PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o-mini": (0.15, 0.60),
    # Anthropic
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-opus-4-6": (5.00, 25.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-haiku-4-5": (1.00, 5.00),
    # Google (text input; 2.5 Pro at the <= 200k-token prompt tier)
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
}

# Dated snapshots ("gpt-5-mini-2025-08-07", "claude-haiku-4-5-20251001") cost what their family costs.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def price_for(model: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens, or None when the model is not in the table."""
    name = model.strip().lower().removeprefix("models/")
    return PRICES_PER_MILLION.get(name) or PRICES_PER_MILLION.get(_SNAPSHOT.sub("", name))


def estimate_cost(model: str, input_tokens: int | None, output_tokens: int | None) -> float | None:
    """USD for one call; None when the model or the token counts are unknown."""
    price = price_for(model)
    if price is None or input_tokens is None or output_tokens is None:
        return None
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 8)
