"""Local caption templates in Spanish and English: the generator's answer when no LLM is configured or the LLM's
answer fails its checks. Every fact in a caption (name, description, price, "was" price) comes from the catalog.

The variant is picked from a hash of the post's key, so a re-run writes the same caption and neighbouring
products do not all read alike. The brand voice sets the tone: formal (no emojis, "usted"), enthusiastic
(exclamations) or warm (the default). Instagram cuts captions at 2,200 characters and 30 hashtags.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ml.content.ideas import Kind
from ml.content.products import CatalogProduct, money

MAX_CAPTION_CHARS = 2_200
MAX_HASHTAGS = 30
MAX_DESCRIPTION_CHARS = 400
LANGUAGES = ("es", "en")
Tone = Literal["warm", "enthusiastic", "formal"]
_FORMAL = ("formal", "elegant", "profesional", "professional", "sobri", "serio", "serious", "usted", "corporat",
           "institucional", "institutional")
_ENTHUSIASTIC = ("entusiast", "enthusias", "divertid", "fun", "energ", "alegre", "playful", "juvenil", "cheerful",
                 "exciting")
_HASHTAG = re.compile(r"#[^\W_][\w]*", re.UNICODE)

HEADLINES: dict[str, dict[Kind, tuple[str, ...]]] = {
    "es": {
        "new_product": ("Nuevo en la tienda: {name}", "Recién llegado: {name}", "Ya está aquí: {name}"),
        "promotion": ("Oferta: {name}", "Precio especial en {name}", "{name} en promoción"),
        "back_in_stock": ("De vuelta en stock: {name}", "Volvió: {name}", "{name} está disponible otra vez"),
        "low_stock": ("Últimas unidades: {name}", "Quedan pocas unidades de {name}",
                      "{name}: últimas unidades disponibles"),
        "best_seller": ("Uno de los favoritos de nuestros clientes: {name}", "De lo más pedido: {name}",
                        "Nuestros clientes lo eligen: {name}"),
        "spotlight": ("Destacado de la semana: {name}", "En la tienda: {name}", "Para esta semana: {name}"),
    },
    "en": {
        "new_product": ("New in store: {name}", "Just arrived: {name}", "It's here: {name}"),
        "promotion": ("On sale: {name}", "Special price on {name}", "{name}, now on promotion"),
        "back_in_stock": ("Back in stock: {name}", "It's back: {name}", "{name} is available again"),
        "low_stock": ("Last units: {name}", "Only a few left: {name}", "{name}: last units available"),
        "best_seller": ("A customer favourite: {name}", "One of our best sellers: {name}",
                        "Customers keep choosing {name}"),
        "spotlight": ("Featured this week: {name}", "In store now: {name}", "This week's pick: {name}"),
    },
}
PRICE_LINES = {"es": ("Precio: {price}", "Antes {was}, ahora {price} ({percent}% menos)"),
               "en": ("Price: {price}", "Was {was}, now {price} ({percent}% off)")}
CALLS_TO_ACTION: dict[str, dict[Tone, tuple[str, ...]]] = {
    "es": {"warm": ("Escríbenos por mensaje directo y te ayudamos.", "¿Te interesa? Escríbenos y te contamos más."),
           "enthusiastic": ("¡Escríbenos ya y es tuyo!", "¡Pídelo hoy por mensaje directo!"),
           "formal": ("Escríbanos por mensaje directo para más información.",
                      "Para consultas, escríbanos por mensaje directo.")},
    "en": {"warm": ("Send us a message and we'll help you.", "Interested? Message us and we'll tell you more."),
           "enthusiastic": ("Message us now and make it yours!", "Order yours today by direct message!"),
           "formal": ("Send us a direct message for more information.",
                      "For enquiries, please send us a direct message.")},
}
EMOJIS: dict[Kind, str] = {"new_product": "✨", "promotion": "🔥", "back_in_stock": "🎉", "low_stock": "⏳",
                           "best_seller": "⭐", "spotlight": "👉"}


@dataclass(frozen=True)
class CaptionRequest:
    """One post to write: the product's catalog facts and how the brand writes."""

    product: CatalogProduct
    kind: Kind
    language: str = "es"
    brand_voice: str = ""
    hashtags: Sequence[str] = field(default_factory=tuple)  # configured, with or without "#"
    seed: str = ""  # the post's generation key: same key, same variant


def language_of(value: str) -> str:
    """`es` or `en` (the template languages); anything else is written in Spanish."""
    code = (value or "es").strip().lower()[:2]
    return code if code in LANGUAGES else "es"


def tone_of(brand_voice: str) -> Tone:
    """Formal when the voice says so (it wins over anything else), enthusiastic, else warm."""
    words = re.findall(r"\w+", _fold(brand_voice))

    def says(stems: Sequence[str]) -> bool:
        return any(word == stem or (len(stem) > 3 and word.startswith(stem)) for word in words for stem in stems)

    if says(_FORMAL):
        return "formal"
    return "enthusiastic" if says(_ENTHUSIASTIC) else "warm"


def hashtag(text: str) -> str | None:
    """"hogar y cocina" → "#hogarycocina"; letters and digits only (accents kept), None when nothing is left."""
    word = "".join(ch for ch in unicodedata.normalize("NFC", text.strip().lstrip("#")) if ch.isalnum())
    return f"#{word}" if word else None


def hashtags_for(request: CaptionRequest) -> list[str]:
    """The configured hashtags then the product's category, without duplicates (case-insensitive), at most 30."""
    tags: dict[str, str] = {}
    for raw in [*request.hashtags, request.product.category or ""]:
        tag = hashtag(raw)
        if tag and tag.lower() not in tags:
            tags[tag.lower()] = tag
    return list(tags.values())[:MAX_HASHTAGS]


def count_hashtags(text: str) -> int:
    return len(_HASHTAG.findall(text))


def template_caption(request: CaptionRequest) -> str:
    """The caption from the templates: headline, description, price, call to action, hashtags."""
    language, tone, product = language_of(request.language), tone_of(request.brand_voice), request.product
    pick = _picker(request.seed or f"{request.kind}:{product.sku}")
    headline = pick(HEADLINES[language][request.kind], 0).format(name=product.name)
    if tone == "enthusiastic":
        headline = f"¡{headline}!" if language == "es" else f"{headline}!"
    if tone != "formal":
        headline = f"{EMOJIS[request.kind]} {headline}"
    plain, promo = PRICE_LINES[language]
    was = product.compare_at_price if request.kind == "promotion" else None
    price = money(product.price, product.currency)
    price_line = (promo.format(was=money(was, product.currency), price=price, percent=product.discount_percent)
                  if was is not None else plain.format(price=price))
    cta = pick(CALLS_TO_ACTION[language][tone], 1)
    description = " ".join((product.description or "").split())
    return fit_caption(headline, description, f"{price_line}\n{cta}", hashtags_for(request))


def fit_caption(headline: str, description: str, closing: str, tags: Iterable[str]) -> str:
    """Join the parts within 2,200 characters: the description gives way first, then the hashtags."""
    tag_line = " ".join(tags)

    def join(text: str, tag_text: str) -> str:
        return "\n\n".join(part for part in (headline, text, closing, tag_text) if part)

    description = _shorten(description, MAX_DESCRIPTION_CHARS)
    room = MAX_CAPTION_CHARS - len(join("", tag_line)) - 2
    if len(description) > room:
        description = _shorten(description, max(0, room))
    caption = join(description, tag_line)
    while len(caption) > MAX_CAPTION_CHARS and " " in tag_line:
        tag_line = tag_line.rsplit(" ", 1)[0]
        caption = join(description, tag_line)
    return caption[:MAX_CAPTION_CHARS]


def append_hashtags(text: str, tags: Iterable[str]) -> str:
    """The LLM's caption plus the configured hashtags it did not already use."""
    present = {tag.lower() for tag in _HASHTAG.findall(text)}
    missing = [tag for tag in tags if tag.lower() not in present]
    return f"{text.rstrip()}\n\n{' '.join(missing)}" if missing else text.rstrip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit < 2:
        return ""
    cut = text[:limit - 1].rsplit(" ", 1)[0] or text[:limit - 1]
    return cut.rstrip(" ,.;:") + "…"


def _picker(seed: str) -> Callable[[Sequence[str], int], str]:
    """Picks one of a tuple, always the same one for the same seed (the salt decorrelates the picks)."""
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)

    def pick(options: Sequence[str], salt: int) -> str:
        return options[(digest >> (16 * salt)) % len(options)]

    return pick


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
