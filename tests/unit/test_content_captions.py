"""The content generator's pure parts (flow 14): which products the week's posts are about, when they go out and
where, the template captions in Spanish and English, hashtags and Instagram's limits, and the LLM caption held to
the catalog (replayed provider answers: a valid one is posted, one that invents a price falls back to the
template)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ml.content.captions import (
    MAX_CAPTION_CHARS,
    MAX_HASHTAGS,
    CaptionRequest,
    count_hashtags,
    hashtags_for,
    template_caption,
    tone_of,
)
from ml.content.ideas import idea_kind, propose_ideas
from ml.content.plan import channels_for, generation_key, next_monday, plan_week, week_slots
from ml.content.products import CatalogProduct, money
from ml.content.writer import CaptionWriter, build_prompt, check_caption, parse_amount
from tests.unit.llm.replay import CASES, ProviderCase, Replay

OPENAI, ANTHROPIC, GEMINI = CASES
PANAMA = "America/Panama"
MONDAY = date(2026, 12, 7)
AS_OF = datetime(2026, 12, 7, tzinfo=ZoneInfo(PANAMA))
OLD = AS_OF - timedelta(days=90)


def product(pid: int, **values: object) -> CatalogProduct:
    defaults: dict = {"id": pid, "sku": f"SKU-{pid}", "name": f"Producto {pid}", "price": Decimal("100.00"),
                      "currency": "USD", "stock": 10, "description": "Una descripción del catálogo",
                      "category": "hogar", "attributes": {}, "created_at": OLD}
    return CatalogProduct(**(defaults | values))


IPHONE = product(1, sku="IPH15-128", name="iPhone 15 128GB", price=Decimal("899.00"), stock=7,
                 description="Apple iPhone 15, pantalla 6.1 pulgadas, cámara 48 MP", category="celulares",
                 attributes={"image_url": "https://cdn.example/iphone15.jpg"}, created_at=AS_OF - timedelta(days=3))
TV = product(2, name="Smart TV Samsung 55 pulgadas", price=Decimal("529.00"), category="televisores",
             attributes={"compare_at_price": "599.00", "image_url": "https://cdn.example/tv.jpg"})
DELL = product(3, name="Laptop Dell XPS 13", price=Decimal("1099.00"), stock=2, category="laptops")
JBL = product(4, name="Audífonos JBL Tune 510BT", price=Decimal("49.90"), stock=25, category="audio")
CHAIR = product(5, name="Silla gamer ErgoX", price=Decimal("189.00"), stock=0, category="muebles",
                created_at=AS_OF - timedelta(days=1))
COFFEE = product(6, name="Cafetera Oster 12 tazas", price=Decimal("59.00"), stock=15, category="hogar")
GARMIN = product(7, name="Reloj Garmin Forerunner 55", price=Decimal("199.00"), stock=9, category="relojes",
                 attributes={"restocked_at": (AS_OF - timedelta(days=2)).isoformat()})
CATALOG = [IPHONE, TV, DELL, JBL, CHAIR, COFFEE, GARMIN]
SALES = {4: 12, 6: 1}


# --- ideas ------------------------------------------------------------------------------------------------

def test_each_product_gets_its_strongest_reason_and_nothing_out_of_stock_is_proposed() -> None:
    kinds = {p.id: idea_kind(p, AS_OF, frozenset({4})) for p in CATALOG}
    assert kinds == {1: "new_product", 2: "promotion", 3: "low_stock", 4: "best_seller", 5: None,
                     6: "spotlight", 7: "back_in_stock"}
    assert idea_kind(product(9, created_at=AS_OF - timedelta(days=15)), AS_OF) == "spotlight", "14 days is new"


def test_the_week_takes_the_kinds_in_turn_at_most_n_and_the_same_inputs_give_the_same_ideas() -> None:
    ideas = propose_ideas(CATALOG, as_of=AS_OF, limit=5, week_key="2026-12-07", units_sold=SALES)
    assert [(i.kind, i.product.id) for i in ideas] == [
        ("promotion", 2), ("new_product", 1), ("back_in_stock", 7), ("low_stock", 3), ("best_seller", 4)]
    assert len(propose_ideas(CATALOG, as_of=AS_OF, limit=2, week_key="w", units_sold=SALES)) == 2
    shuffled = list(reversed(CATALOG))
    again = propose_ideas(shuffled, as_of=AS_OF, limit=5, week_key="2026-12-07", units_sold=dict(SALES))
    assert again == ideas
    everything = propose_ideas(CATALOG, as_of=AS_OF, limit=50, week_key="w", units_sold=SALES)
    assert 5 not in {i.product.id for i in everything}, "an out-of-stock product is never advertised"
    assert [i.kind for i in everything][-1] == "spotlight", "spotlights only fill the week"


def test_without_a_compare_at_price_there_is_no_promotion_and_recent_posts_wait() -> None:
    plain_tv = product(2, attributes={"discount": "lots"})
    assert idea_kind(plain_tv, AS_OF) == "spotlight"
    assert idea_kind(product(2, attributes={"compare_at_price": 50}), AS_OF) == "spotlight", "not above the price"
    ideas = propose_ideas(CATALOG, as_of=AS_OF, limit=2, week_key="w", units_sold=SALES, recently_posted={2})
    assert [i.product.id for i in ideas] == [1, 7]


def test_posts_spread_over_the_week_at_the_local_hour_and_never_in_the_past() -> None:
    slots = week_slots(MONDAY, 3, 18, PANAMA)
    assert [s.strftime("%a %H:%M") for s in slots] == ["Mon 18:00", "Wed 18:00", "Fri 18:00"]
    assert slots[0].astimezone(UTC).hour == 23
    thursday = datetime(2026, 12, 10, 12, tzinfo=ZoneInfo(PANAMA))
    late = week_slots(MONDAY, 3, 18, PANAMA, not_before=thursday)
    assert [s.strftime("%a") for s in late] == ["Thu", "Fri", "Sat"]
    assert week_slots(MONDAY, 3, 18, PANAMA, not_before=datetime(2026, 12, 14, tzinfo=UTC)) == []
    assert len(week_slots(MONDAY, 10, 9, PANAMA)) == 10
    assert next_monday(date(2026, 12, 7)) == date(2026, 12, 14) and next_monday(date(2026, 12, 6)) == MONDAY


def test_a_product_without_an_image_goes_to_facebook_only() -> None:
    assert channels_for(IPHONE, ["facebook", "instagram"]) == ("facebook", "instagram")
    assert channels_for(DELL, ["facebook", "instagram"]) == ("facebook",)
    assert channels_for(DELL, ["instagram"]) == ()
    plan = plan_week(CATALOG, monday=MONDAY, per_week=3, post_hour=18, timezone=PANAMA, channels=["instagram"],
                     language="es", units_sold=SALES)
    assert {p.product.id for p in plan} == {1, 2}, "only products with an image can go to Instagram"
    assert all(p.media_url for p in plan)
    full = plan_week(CATALOG, monday=MONDAY, per_week=3, post_hour=18, timezone=PANAMA,
                     channels=["facebook", "instagram"], language="en", units_sold=SALES)
    assert [p.key for p in full] == [generation_key(MONDAY, "promotion", 2), "gen:2026-12-07:new_product:1",
                                     "gen:2026-12-07:back_in_stock:7"]
    assert full[2].channels == ("facebook",) and full[2].media_url is None


# --- templates --------------------------------------------------------------------------------------------

def test_spanish_and_english_templates_state_the_catalog_facts() -> None:
    spanish = template_caption(CaptionRequest(TV, "promotion", "es", "cercana", ["tienda"], "k1"))
    english = template_caption(CaptionRequest(TV, "promotion", "en", "warm", ["tienda"], "k1"))
    assert "Smart TV Samsung 55 pulgadas" in spanish and "Smart TV Samsung 55 pulgadas" in english
    assert "Antes $599, ahora $529 (12% menos)" in spanish
    assert "Was $599, now $529 (12% off)" in english
    assert "Escr" in spanish and "message" in english.lower()
    assert spanish.endswith("#tienda #televisores") and english.endswith("#tienda #televisores")
    low = template_caption(CaptionRequest(DELL, "low_stock", "es", "", [], "k2"))
    assert "ltimas unidades" in low or "pocas unidades" in low
    assert "Precio: $1,099" in low and "2" not in low.split("Precio")[0], "no stock count is stated"
    assert "Price: $49.90" in template_caption(CaptionRequest(JBL, "best_seller", "en", "", [], "k3"))
    assert money(Decimal(1500), "EUR") == "EUR 1,500"


def test_the_variant_is_stable_per_post_and_varies_between_posts() -> None:
    first = template_caption(CaptionRequest(COFFEE, "spotlight", "es", "", [], "gen:2026-12-07:spotlight:6"))
    assert first == template_caption(CaptionRequest(COFFEE, "spotlight", "es", "", [], "gen:2026-12-07:spotlight:6"))
    headlines = {template_caption(CaptionRequest(COFFEE, "spotlight", "es", "", [], f"gen:w{i}:spotlight:6"))
                 .split("\n")[0] for i in range(20)}
    assert len(headlines) == 3


def test_the_brand_voice_sets_the_tone() -> None:
    assert tone_of("cercana, clara y entusiasta") == "enthusiastic"
    assert tone_of("Formal y elegante, tratamos de usted") == "formal"
    assert tone_of("funcional y clara") == "warm", "'funcional' is not 'fun'"
    formal = template_caption(CaptionRequest(IPHONE, "new_product", "es", "formal", [], "k"))
    lively = template_caption(CaptionRequest(IPHONE, "new_product", "es", "entusiasta", [], "k"))
    assert "Escríbanos" in formal or "escríbanos" in formal
    assert "✨" not in formal and lively.startswith("✨ ¡") and "!" in lively.split("\n")[0]


def test_hashtags_are_cleaned_deduplicated_and_capped_at_thirty() -> None:
    request = CaptionRequest(product(8, category="Hogar y Cocina"), "spotlight", "es", "",
                             ["#Ofertas", "ofertas", "hecho en panamá", "  ", "#!!"], "k")
    assert hashtags_for(request) == ["#Ofertas", "#hechoenpanamá", "#HogaryCocina"]
    many = CaptionRequest(IPHONE, "new_product", "es", "", [f"tag{i}" for i in range(40)], "k")
    caption = template_caption(many)
    assert count_hashtags(caption) == MAX_HASHTAGS and "#tag29" in caption and "#tag30" not in caption


def test_a_huge_description_is_shortened_to_fit_instagram() -> None:
    long_one = product(9, name="Mesa de roble", description="madera maciza " * 600, category="muebles")
    caption = template_caption(CaptionRequest(long_one, "spotlight", "en", "", ["tienda"] * 3, "k"))
    assert len(caption) <= MAX_CAPTION_CHARS
    assert "Mesa de roble" in caption and "Price: $100" in caption and caption.endswith("#tienda #muebles")
    huge_tags = template_caption(CaptionRequest(long_one, "spotlight", "en", "", ["x" * 150 for _ in range(20)], "k"))
    assert len(huge_tags) <= MAX_CAPTION_CHARS and "Mesa de roble" in huge_tags


# --- the LLM writer ---------------------------------------------------------------------------------------

TV_REQUEST = CaptionRequest(TV, "promotion", "es", "cercana y entusiasta", ["tiendademo"], "gen:2026-12-07:promotion:2")
GOOD = ("¡La Smart TV Samsung 55 pulgadas está en oferta! Antes $599, ahora $529 (12% menos): 4K UHD para tus "
        "series. Escríbenos por mensaje directo 📺")
INVENTED = "¡La Smart TV Samsung 55 pulgadas a solo $499 este fin de semana! Escríbenos por mensaje directo."


def answer(text: str) -> str:
    return json.dumps({"caption": text}, ensure_ascii=False)


async def test_a_valid_llm_caption_is_used_with_the_hashtags_appended() -> None:
    replay = Replay([OPENAI.ok(answer(GOOD))])
    caption = await CaptionWriter([OPENAI.build(replay, max_retries=0)]).write(TV_REQUEST)
    assert caption.written_by == "llm" and caption.provider == "openai"
    assert caption.text == GOOD + "\n\n#tiendademo #televisores"
    assert [r.outcome for r in caption.records] == ["ok"] and caption.records[0].task == "content_caption"
    assert caption.records[0].input_tokens == OPENAI.tokens[0]
    system = replay.bodies()[0]["messages"][0]["content"]
    assert '"price_text": "$529"' in system and '"was_price_text": "$599"' in system
    assert "cercana y entusiasta" in system and "Nunca inventes precios" in system


async def test_a_caption_inventing_a_price_is_rejected_and_the_next_provider_or_the_template_writes_it() -> None:
    openai = Replay([OPENAI.ok(answer(INVENTED))])
    anthropic = Replay([ANTHROPIC.ok(answer(GOOD))])
    caption = await CaptionWriter([OPENAI.build(openai, max_retries=0),
                                   ANTHROPIC.build(anthropic, max_retries=0)]).write(TV_REQUEST)
    assert caption.written_by == "llm" and caption.provider == "anthropic"
    assert [r.outcome for r in caption.records] == ["invalid_output", "ok"]
    assert "price 499 not in the catalog" in caption.rejected[0]

    alone = await CaptionWriter([OPENAI.build(Replay([OPENAI.ok(answer(INVENTED))]), max_retries=0)]).write(TV_REQUEST)
    assert alone.written_by == "template" and alone.text == template_caption(TV_REQUEST)
    assert "$499" not in alone.text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_errors_empty_and_over_long_answers_fall_back_to_the_template(case: ProviderCase) -> None:
    for step in (case.error(500), case.ok(answer("")), case.ok(answer("Smart TV Samsung 55 pulgadas " * 120)),
                 case.ok("not json"), case.ok(answer("Un televisor increíble, escríbenos."))):
        caption = await CaptionWriter([case.build(Replay([step]), max_retries=0)]).write(TV_REQUEST)
        assert caption.written_by == "template", step
        assert caption.text == template_caption(TV_REQUEST)
        assert caption.records[0].outcome != "ok"
    nothing = await CaptionWriter([]).write(TV_REQUEST)
    assert nothing.written_by == "template" and nothing.records == []


def test_the_caption_check_holds_prices_discounts_stock_and_the_name_to_the_catalog() -> None:
    assert check_caption(GOOD, TV_REQUEST) == []
    assert check_caption("Smart TV Samsung 55 pulgadas por USD 529", TV_REQUEST) == []
    assert check_caption("Smart TV Samsung 55 pulgadas con 30% de descuento", TV_REQUEST) == [
        "discount 30% not in the catalog"]
    assert check_caption("**Smart TV Samsung 55 pulgadas**: quedan 3 unidades", TV_REQUEST) == ["states a stock figure"]
    assert check_caption("Un televisor a $529", TV_REQUEST) == ["does not name 'Smart TV Samsung 55 pulgadas'"]
    spotlight = CaptionRequest(TV, "spotlight", "es", "", [], "k")
    assert check_caption("Smart TV Samsung 55 pulgadas, antes $599", spotlight) == ["price 599 not in the catalog"]
    cotton = CaptionRequest(product(9, name="Camiseta", description="100% algodón, pack de 2 unidades"), "spotlight")
    assert check_caption("Camiseta 100% algodón, pack de 2 unidades. $100", cotton) == []
    assert parse_amount("1,099") == parse_amount("1.099") == Decimal(1099)
    assert parse_amount("49,90") == Decimal("49.90") and parse_amount("1.099,50") == Decimal("1099.50")


def test_the_prompt_carries_only_catalog_facts() -> None:
    prompt = build_prompt(CaptionRequest(DELL, "low_stock", "en", "formal", [], "k"))
    facts = json.loads(prompt.split("<producto>\n")[1].split("\n</producto>")[0])
    assert facts == {"name": "Laptop Dell XPS 13", "description": "Una descripción del catálogo",
                     "category": "laptops", "price_text": "$1,099", "currency": "USD",
                     "availability": "últimas unidades / last units"}
    assert "IDIOMA DEL TEXTO: en" in prompt and "VOZ DE LA MARCA: formal" in prompt
