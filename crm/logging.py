"""structlog JSON logs with an event name and ids; phone numbers and emails are masked before output."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# 7+ digits, optionally with +, spaces, dots or dashes between them (E.164, wa_id, local formats).
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[\s.-]?\d){6,}(?![\w.])")


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def mask_text(text: str) -> str:
    """`+50761234567` → `+507*****567`, `ana.perez@mail.com` → `a***@mail.com`."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    if _DATE.fullmatch(raw):
        return raw
    digits = [c for c in raw if c.isdigit()]
    if len(digits) < 7:
        return raw
    keep_head = 4 if raw.startswith("+") else 3
    head = raw[:keep_head]
    return f"{head}{'*' * (len(digits) - 6)}{''.join(digits[-3:])}"


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(v) for v in value]
    return value


def mask_pii(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key not in ("timestamp", "level", "logger"):
            event_dict[key] = _mask_value(value)
    return event_dict


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_pii,
    ]
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries using stdlib logging (uvicorn, procrastinate) go through the same masking and JSON renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *processors],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers (and stops propagation): route them through the masking renderer too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = [handler]
        uvicorn_logger.propagate = False
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
