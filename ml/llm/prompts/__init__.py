"""Prompt files for the LLM adapters, read as package data so they ship inside the wheel.

The templates contain literal JSON examples, so they are filled by exact `{name}` substitution in one pass
instead of str.format: braces in the template or in the customer's message never break or re-expand.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files

SYSTEM = "system"
REPAIR = "repair"
# The conversational agent (flow 6): its system prompt, the per-turn RAG prompt and the fact-check repair note.
AGENT_REPLY = "agent_reply"
AGENT_TURN = "agent_turn"
AGENT_REPAIR = "agent_repair"
# Cost and abuse bound: a chat message longer than this is cut before it reaches a paid API.
MAX_MESSAGE_CHARS = 8_000
# Hints meant for the chain (not for the model) that callers may put in `context`.
INTERNAL_CONTEXT_KEYS = frozenset({"local_confidence"})
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of `<name>.txt` in this package."""
    return files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    """Replace `{key}` for the given keys only, in a single pass (inserted text is never re-scanned)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), template)


def format_context(context: dict | None) -> str:
    """The caller's context as compact JSON for the prompt, without the chain's internal hints."""
    visible = {k: v for k, v in (context or {}).items() if k not in INTERNAL_CONTEXT_KEYS}
    return json.dumps(visible, ensure_ascii=False, sort_keys=True, default=str) if visible else "{}"


def task_prompt(task: str, message: str, context: dict | None = None) -> str:
    """The user prompt for one task ("intent", "sentiment" or "lead")."""
    # The message cannot close its own delimiter and pose as instructions.
    safe = message[:MAX_MESSAGE_CHARS].replace("</mensaje>", "</ mensaje>")
    return fill(load(task), message=safe, context=format_context(context))


def repair_prompt(original: str, previous: str, errors: str) -> str:
    """The original prompt followed by the invalid answer and what was wrong with it."""
    repair = fill(load(REPAIR), previous=previous[:4_000] or "(vacía)", errors=errors)
    return original.rstrip() + "\n\n" + repair
