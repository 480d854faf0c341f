"""Email addresses: normalize, check the syntax (no DNS), hint at typo domains, tell free-mail from company.

Normalization choice: the whole address is lower-cased, the local part included. RFC 5321 lets a server treat
the local part case-sensitively, but no mainstream provider does, and people type "Juan.Perez@Gmail.com" and
"juan.perez@gmail.com" for the same mailbox; lower-casing lets dedup and joins match them. We do NOT strip
Gmail dots or "+tags": those change the address a person gave us (`mailbox_key` does it, for matching only).

Typo domains ("gmial.com") are reported in `suggestion`, never applied: the address stays as typed and the
caller decides. `check_email` is cached per raw value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# Consumer mailbox providers: free webmail and the consumer ISPs of Panama and Latin America. An address here
# is a person's own mailbox, not a company's domain ("email_free" = True).
FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google, Microsoft, Yahoo, Apple, AOL and other global webmail
        "gmail.com", "googlemail.com",
        "hotmail.com", "hotmail.es", "hotmail.com.mx", "hotmail.co", "hotmail.com.ar", "hotmail.cl",
        "hotmail.com.br", "hotmail.fr", "hotmail.it", "hotmail.co.uk", "hotmail.de",
        "outlook.com", "outlook.es", "outlook.com.mx", "outlook.cl", "outlook.com.ar", "outlook.com.br",
        "outlook.fr", "outlook.it", "outlook.de",
        "live.com", "live.com.mx", "live.com.ar", "live.cl", "live.co.uk", "live.fr", "live.it", "live.de",
        "msn.com", "passport.com",
        "yahoo.com", "yahoo.es", "yahoo.com.mx", "yahoo.com.ar", "yahoo.com.br", "yahoo.co", "yahoo.com.co",
        "yahoo.cl", "yahoo.com.pe", "yahoo.com.ve", "yahoo.fr", "yahoo.it", "yahoo.de", "yahoo.co.uk",
        "ymail.com", "rocketmail.com",
        "icloud.com", "me.com", "mac.com",
        "aol.com", "aim.com",
        "protonmail.com", "protonmail.ch", "proton.me", "pm.me",
        "gmx.com", "gmx.net", "gmx.de", "gmx.es", "web.de", "mail.com", "email.com", "usa.com",
        "zoho.com", "zohomail.com", "yandex.com", "yandex.ru", "mail.ru", "inbox.com",
        "tutanota.com", "tuta.io", "fastmail.com", "hushmail.com", "hey.com",
        "qq.com", "163.com", "126.com", "naver.com",
        # Latin American portals and ISPs
        "cableonda.net", "cwpanama.net", "cwp.net.pa", "tigo.com.pa", "sinfo.net", "pananet.com",
        "prodigy.net.mx", "terra.com", "terra.com.mx", "terra.com.br", "terra.es", "uol.com.br", "bol.com.br",
        "ig.com.br", "telefonica.net", "movistar.es", "une.net.co", "etb.net.co", "speedy.com.ar",
        "fibertel.com.ar", "arnet.com.ar", "vtr.net", "racsa.co.cr", "ice.co.cr", "cantv.net", "andinanet.net",
        "latinmail.com", "starmedia.com", "correo.ec",
    }
)

# Throw-away inboxes: syntactically fine, but nobody reads them.
DISPOSABLE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com", "10minutemail.com",
        "yopmail.com", "yopmail.net", "tempmail.com", "temp-mail.org", "throwawaymail.com", "trashmail.com",
        "getnada.com", "dispostable.com", "maildrop.cc", "fakeinbox.com", "mintemail.com", "emailondeck.com",
    }
)

# The providers a typo is most likely aimed at, most common first (ties in distance go to the first).
_TYPO_TARGETS: tuple[str, ...] = (
    "gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "icloud.com", "live.com", "hotmail.es",
    "yahoo.es", "outlook.es", "yahoo.com.mx", "hotmail.com.mx", "live.com.mx", "aol.com", "msn.com",
    "cableonda.net", "protonmail.com",
)
# Misspellings seen often enough to name outright (beyond what the edit distance finds).
_KNOWN_TYPOS: dict[str, str] = {
    "gmail.co": "gmail.com", "gmail.cm": "gmail.com", "gmail.con": "gmail.com", "gmail.om": "gmail.com",
    "gmail.es": "gmail.com", "gmail.com.pa": "gmail.com", "gmail.com.mx": "gmail.com", "gnail.com": "gmail.com",
    "g-mail.com": "gmail.com", "gmail.comm": "gmail.com", "gmailcom": "gmail.com", "gmal.com": "gmail.com",
    "hotmail.co": "hotmail.com", "hotmail.con": "hotmail.com", "hotmail.cm": "hotmail.com",
    "hotmal.com": "hotmail.com", "hotmial.com": "hotmail.com", "homtail.com": "hotmail.com",
    "hotmail.com.pa": "hotmail.com", "yahoo.con": "yahoo.com", "yahoo.cm": "yahoo.com",
    "outlook.con": "outlook.com", "outlok.com": "outlook.com", "icloud.con": "icloud.com",
}
_TLD_TYPOS: dict[str, str] = {"con": "com", "cmo": "com", "ocm": "com", "comm": "com", "cm": "com", "om": "com"}

# "mailto:", surrounding <> and quotes, and the punctuation a sentence leaves at the end ("ana@gmail.com.").
_WRAPPERS = re.compile(r"^(?:mailto:)?[\s<\"']+|^mailto:|[\s>\"'.,;:]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EmailCheck:
    """What one raw email value turned out to be."""

    raw: str | None
    normalized: str | None  # stripped, lower-cased; kept even when not valid (so people can see and fix it)
    valid: bool  # syntax only, email_validator with check_deliverability=False
    local_part: str | None
    domain: str | None
    free: bool | None  # consumer mailbox provider; None when there is no domain
    disposable: bool
    suggestion: str | None  # "juan@gmail.com" when the domain looks like a typo of a known provider
    problem: str | None


def _text(raw: object) -> str | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw).strip()
    return text or None


def _edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (a transposition counts once), giving up above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=100_000)
def suggest_domain(domain: str) -> str | None:
    """The provider domain a typo most likely meant ("gmial.com" → "gmail.com"), or None."""
    domain = domain.lower().strip(".")
    if domain in FREE_EMAIL_DOMAINS or domain in DISPOSABLE_EMAIL_DOMAINS:
        return None
    if domain in _KNOWN_TYPOS:
        return _KNOWN_TYPOS[domain]
    name, _, tld = domain.rpartition(".")
    if name and tld in _TLD_TYPOS and f"{name}.{_TLD_TYPOS[tld]}" in FREE_EMAIL_DOMAINS:
        return f"{name}.{_TLD_TYPOS[tld]}"
    best, best_distance = None, 3
    for target in _TYPO_TARGETS:
        # Short domains are too close to everything; "aol.co" vs "aol.com" is still caught above.
        limit = 1 if len(target) <= 8 else 2
        distance = _edit_distance(domain, target, limit)
        if distance <= limit and distance < best_distance:
            best, best_distance = target, distance
    return best


def is_free_domain(domain: str | None) -> bool | None:
    """True for a consumer mailbox provider (gmail.com, cableonda.net), False for a company domain."""
    if not domain:
        return None
    return domain.lower() in FREE_EMAIL_DOMAINS


@lru_cache(maxsize=500_000)
def _check_cached(text: str) -> EmailCheck:
    candidate = _WRAPPERS.sub("", text)
    lowered = candidate.lower()
    local, at, domain = lowered.rpartition("@")
    if not at:
        return EmailCheck(text, lowered, False, None, None, None, False, None, "no @-sign")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        valid, problem = False, str(error)
    else:
        valid, problem = True, None
        local, domain = result.local_part.lower(), result.domain.lower()
        lowered = f"{local}@{domain}"
    hint = suggest_domain(domain) if domain else None
    return EmailCheck(
        raw=text,
        normalized=lowered,
        valid=valid,
        local_part=local or None,
        domain=domain or None,
        free=is_free_domain(domain),
        disposable=domain in DISPOSABLE_EMAIL_DOMAINS,
        suggestion=f"{local}@{hint}" if hint and local else None,
        problem=problem,
    )


def check_email(raw: object) -> EmailCheck:
    """Normalize and syntax-check one raw email value (no DNS). Never raises."""
    text = _text(raw)
    if text is None:
        return EmailCheck(None, None, False, None, None, None, False, None, "empty")
    return _check_cached(text)


def normalize_email(raw: object) -> str | None:
    """The normalized form of one raw email ("  Juan.Perez@GMAIL.com " → "juan.perez@gmail.com")."""
    return check_email(raw).normalized


def mailbox_key(normalized: str | None) -> str | None:
    """A matching key (not an address to write to): Gmail dots and "+tags" removed, googlemail → gmail."""
    if not normalized or "@" not in normalized:
        return normalized
    local, _, domain = normalized.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def mask_email(address: str | None) -> str | None:
    """"juan.perez@gmail.com" → "j***@gmail.com", for logs and check metadata."""
    if not address:
        return address
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}"
