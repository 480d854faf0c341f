"""What a downloaded file must pass before it is kept: a size cap enforced while the bytes arrive, a type detected
from the bytes themselves (never the sender's word), the MEDIA_ALLOWED_TYPES allow-list, and a rough match with
what the message said it was (an "image" that is really a web page or a program is refused). Pure functions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import timedelta

import filetype

# The first bytes are enough to tell a type (filetype reads at most 8 KiB).
SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"
# Never kept, whatever MEDIA_ALLOWED_TYPES says: served back to an agent's browser they could run script.
ALWAYS_REFUSED = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
                  "text/javascript")
_MARKUP = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(!doctype\s+html|html|head|"
                     rb"body|script|iframe|svg|meta|title|div|p|a)\b", re.IGNORECASE | re.DOTALL)
_SVG = re.compile(rb"<svg\b", re.IGNORECASE)

# Each kind of attachment and the families of detected types it may turn out to be (None: any allowed type).
# Audio and video share containers (an .m4a voice note is an MP4 file), so each accepts the other.
KIND_FAMILIES: dict[str, tuple[str, ...] | None] = {
    "image": ("image/",),
    "sticker": ("image/",),
    "audio": ("audio/", "video/"),
    "video": ("video/", "audio/"),
    "story_mention": ("image/", "video/"),
    "share": ("image/", "video/"),
    "document": None,
}


class MediaRejected(Exception):
    """The file is refused for good (too big, a type we do not keep, not what it claimed to be)."""


class TooLarge(MediaRejected):
    pass


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalize_sha256(declared: str | None) -> str | None:
    """Meta declares SHA-256 as hex (the media endpoint) or base64 (webhooks); anything else cannot be compared."""
    if not declared:
        return None
    value = declared.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return value.lower()
    standard = value.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def detect_mime(head: bytes) -> str:
    """The type the bytes are, from their signature; text that is not markup is text/plain."""
    head = head[:SNIFF_BYTES]
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if _MARKUP.match(head):
        return "image/svg+xml" if _SVG.search(head) else "text/html"
    if _SVG.search(head[:1024]):
        return "image/svg+xml"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a multi-byte character cut at the sniffing limit is still text
            if exc.start < len(head) - 3:
                return OCTET_STREAM
        return "text/plain"
    return OCTET_STREAM


def is_allowed(mime: str, allowed: list[str]) -> bool:
    """MEDIA_ALLOWED_TYPES holds prefixes (`image/`) or whole types (`application/pdf`)."""
    mime = mime.lower()
    if mime in ALWAYS_REFUSED:
        return False
    return any(mime.startswith(prefix.strip().lower()) for prefix in allowed if prefix.strip())


def _family(mime: str | None) -> str | None:
    if not mime or "/" not in mime:
        return None
    return mime.split("/", 1)[0].lower() + "/"


def check_type(data: bytes, kind: str, declared_mime: str | None, allowed: list[str]) -> str:
    """The detected type of a downloaded file if it may be kept, else MediaRejected saying why."""
    detected = detect_mime(data)
    if not is_allowed(detected, allowed):
        raise MediaRejected(f"type {detected} is not allowed (declared {declared_mime or 'nothing'}, kind {kind})")
    families = KIND_FAMILIES.get(kind)
    if families is not None and _family(detected) not in families:
        raise MediaRejected(f"the {kind} is really {detected}")
    declared_family = _family(declared_mime)
    if declared_family in ("image/", "audio/", "video/"):
        compatible = {"image/": ("image/",), "audio/": ("audio/", "video/"), "video/": ("video/", "audio/")}
        if _family(detected) not in compatible[declared_family]:
            raise MediaRejected(f"declared {declared_mime} but the bytes are {detected}")
    return detected


@dataclass
class Capped:
    data: bytes
    chunks_read: int


async def read_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> Capped:
    """Collects a download, stopping (TooLarge) as soon as it passes `max_bytes`: the rest is never read."""
    parts: list[bytearray | bytes] = []
    size = 0
    count = 0
    async for chunk in chunks:
        count += 1
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"larger than MEDIA_MAX_BYTES ({max_bytes} bytes)")
        parts.append(chunk)
    return Capped(b"".join(parts), count)


def check_declared_size(size: int | None, max_bytes: int) -> None:
    if size is not None and size > max_bytes:
        raise TooLarge(f"declared size {size} bytes is larger than MEDIA_MAX_BYTES ({max_bytes} bytes)")


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 ... minutes after each failed attempt, capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def check_source_url(url: str, allowed_hosts: list[str], graph_base_url: str) -> None:
    """Only Meta's CDNs over HTTPS (or the Graph base URL's own host, e.g. the local sandbox): a URL taken from a
    webhook must not make the worker fetch from the private network or anywhere else."""
    from urllib.parse import urlsplit

    parts, graph = urlsplit(url), urlsplit(graph_base_url)
    host = (parts.hostname or "").lower()
    if host and parts.netloc.lower() == graph.netloc.lower() and parts.scheme == graph.scheme:
        return  # the Graph base itself, port included (the sandbox; not any port of that host)
    if parts.scheme != "https" or not host:
        raise MediaRejected(f"media URL refused: not https ({parts.scheme or 'no scheme'})")
    if not any(host == h.strip().lower() or host.endswith("." + h.strip().lower()) for h in allowed_hosts if h.strip()):
        raise MediaRejected(f"media URL refused: {host} is not one of Meta's hosts (MEDIA_ALLOWED_HOSTS)")
