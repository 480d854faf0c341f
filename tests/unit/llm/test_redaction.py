"""Redaction before LLM calls (ml.llm.redaction): what is replaced by a placeholder, what is left alone on purpose
(order numbers, prices, quantities, dates, SKUs), the Luhn check, stable numbering and the way back."""

from __future__ import annotations

import json

import pytest

from ml.llm.redaction import (
    find,
    json_escape,
    leftover_placeholders,
    luhn_valid,
    redact,
    redact_all,
    restore,
)


def redacted(text: str) -> str:
    return redact(text).text


def values(text: str, kind: str) -> list[str]:
    return [f.value for f in find(text) if f.kind == kind]


# --- phones ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "phone"), [
    ("Llámame al 6123-4567 por favor", "6123-4567"),
    ("mi cel es 61234567", "61234567"),
    ("Tel: 6123 4567.", "6123 4567"),
    ("la oficina: 223-4567", "223-4567"),
    ("escríbeme al +507 6123-4567", "+507 6123-4567"),
    ("mi número en México es 55 1234 5678", "55 1234 5678"),
    ("desde México: +52 55 1234 5678", "+52 55 1234 5678"),
    ("en Colombia al +57 300 123 4567", "+57 300 123 4567"),
    ("Call me at (212) 555-1234 tomorrow", "(212) 555-1234"),
    ("My number is +1 212 555 1234", "+1 212 555 1234"),
    ('{"phone": "+50761234567", "channel": "whatsapp"}', "+50761234567"),
])
def test_phone_numbers_are_replaced(text: str, phone: str) -> None:
    assert values(text, "PHONE") == [phone]
    out = redacted(text)
    assert phone not in out and "[PHONE_1]" in out


@pytest.mark.parametrize("text", [
    "Mi pedido 10045 no ha llegado",
    "el pedido 2345678 sigue en camino",
    "order #2345678 is late",
    "factura No. 61234567",
    "guía 61234567 de la transportadora",
    "El iPhone cuesta $1,299",
    "precio USD 1,299.00 o B/. 2345678",
    "Necesito 500 unidades para el viernes",
    "entre 2000-3000 unidades",
    "iPhone 15 128GB",
    "Galaxy S24 Ultra 512 GB, RAM 16GB DDR5 4800MHz",
    "lo quiero para el 2026-03-02",
    "entrega el 15/03/2026 a las 10:30",
    '"created_at": "2026-03-02T10:00:00+00:00"',
    "el SKU IPH15-128 y el SM-S921B",
    "horario 0800-1700",
    '{"price": "1099.00", "price_text": "$1,099", "stock": 3}',
])
def test_order_numbers_prices_quantities_dates_and_skus_are_not_phones(text: str) -> None:
    assert find(text) == []
    assert redacted(text) == text


# --- emails ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "email"), [
    ("escríbeme a juan.perez@gmail.com.", "juan.perez@gmail.com"),
    ("my email is Ana_Lopez+shop@Empresa.com.pa, thanks", "Ana_Lopez+shop@Empresa.com.pa"),
    ("contacto: ventas@tienda.pa / 6123-4567", "ventas@tienda.pa"),
])
def test_emails_are_replaced(text: str, email: str) -> None:
    assert values(text, "EMAIL") == [email]
    assert email not in redacted(text) and "[EMAIL_1]" in redacted(text)


def test_an_at_sign_without_a_domain_is_not_an_email() -> None:
    assert find("nos vemos @ la tienda, sígueme en @tienda_pa") == []


# --- cards -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "card"), [
    ("Mi tarjeta es 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("card 5555-5555-5555-4444 exp 12/27", "5555-5555-5555-4444"),
    ("pago con 4242424242424242", "4242424242424242"),
    ("Amex 3782 822463 10005", "3782 822463 10005"),
    ("Discover 6011111111111117.", "6011111111111117"),
])
def test_card_numbers_that_pass_the_luhn_check_are_replaced(text: str, card: str) -> None:
    assert values(text, "CARD") == [card]
    assert "[CARD_1]" in redacted(text) and card not in redacted(text)


@pytest.mark.parametrize("text", [
    "Mi tarjeta es 4111 1111 1111 1112",  # fails the Luhn check
    "4111 1111 1111",  # 12 digits
    "41111 1111 1111 1111",  # not a card's grouping
    "4111-1111 1111-1111",  # two kinds of separator
    "IMEI 356938035643809",  # Luhn-valid, but labelled as a device code
])
def test_numbers_that_are_not_cards(text: str) -> None:
    assert values(text, "CARD") == []


def test_two_phones_in_a_row_are_two_phones_not_a_card() -> None:
    assert redacted("6123-4567 6234-5678") == "[PHONE_1] [PHONE_2]"


@pytest.mark.parametrize(("digits", "valid"), [
    ("4111111111111111", True), ("378282246310005", True), ("5555555555554444", True), ("79927398713", True),
    ("4111111111111112", False), ("1234567812345678", False), ("", False), ("4111-1111", False),
])
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


# --- addresses ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "address"), [
    ("Vivo en Calle 50 #23-45, cerca del banco", "Calle 50 #23-45"),
    ("Entrégalo en Av. Balboa, PH Torre 2, apto 5B por favor", "Av. Balboa, PH Torre 2, apto 5B"),
    ("Carrera 7 # 45-10, Bogotá", "Carrera 7 # 45-10"),
    ("mi dirección es Cra. 15 No. 93-47", "Cra. 15 No. 93-47"),
    ("queda en el #12-34 de la 50", "#12-34"),
    ("Entregar en Calle 4ta, casa #25, Barrio Bella Vista", "Calle 4ta, casa #25, Barrio Bella Vista"),
    ("Calle 50 Este, Edificio Global Bank, piso 12, oficina 1204", "Calle 50 Este, Edificio Global Bank, piso 12,"
                                                                   " oficina 1204"),
    ("Edificio Los Pinos, apto 12", "Edificio Los Pinos, apto 12"),
    ("vivo en la Avenida Perú", "Avenida Perú"),
    ("en Vía España 120", "Vía España 120"),
    ("en el barrio San Francisco", "barrio San Francisco"),
    ("déjalo en la casa 12", "casa 12"),
    ("Ship it to 123 Main St, Apt 4B, Springfield", "123 Main St, Apt 4B"),
    ("I live at 221B Baker Street.", "221B Baker Street"),
    ("Send it to 742 Evergreen Terrace, Springfield", "742 Evergreen Terrace"),
])
def test_addresses_are_replaced(text: str, address: str) -> None:
    assert values(text, "ADDRESS") == [address]
    assert redacted(text) == text.replace(address, "[ADDRESS_1]")


@pytest.mark.parametrize("text", [
    "estoy en la calle principal",
    "lo uso en casa y en la oficina",
    "mi carrera de Ingeniería",
    "pago vía Yappy o envío vía WhatsApp",
    "la opción #1-2 del menú",
    "I need 3 more boxes",
    "iPhone 15 Pro Max",
    "la Dell XPS 13 - $1,099, tenemos 3 en stock",
    "Ventilador de Torre 2 velocidades",
])
def test_words_that_only_look_like_addresses_are_left_alone(text: str) -> None:
    assert find(text) == []


# --- whole messages ----------------------------------------------------------------------------------------

def test_a_spanish_message_keeps_its_facts_and_loses_its_contact_details() -> None:
    text = ("Hola, quiero 2 iPhone 15 128GB ($899 c/u) del pedido 10045. Envíen a Calle 50 #23-45, apto 5B; "
            "mi cel 6123-4567, correo ana.gomez@correo.pa y pago con 4111 1111 1111 1111. Para el 2026-03-02.")
    out = redact(text)

    assert out.text == ("Hola, quiero 2 iPhone 15 128GB ($899 c/u) del pedido 10045. Envíen a [ADDRESS_1]; "
                        "mi cel [PHONE_1], correo [EMAIL_1] y pago con [CARD_1]. Para el 2026-03-02.")
    assert out.mapping == {"[ADDRESS_1]": "Calle 50 #23-45, apto 5B", "[PHONE_1]": "6123-4567",
                           "[EMAIL_1]": "ana.gomez@correo.pa", "[CARD_1]": "4111 1111 1111 1111"}


def test_an_english_message() -> None:
    text = "Hi, order #2345678 never came. I'm at 123 Main St, call (212) 555-1234 or mail me at bob@example.com"
    assert redacted(text) == ("Hi, order #2345678 never came. I'm at [ADDRESS_1], call [PHONE_1] or mail me at "
                              "[EMAIL_1]")


def test_nothing_to_redact_leaves_the_text_and_an_empty_mapping() -> None:
    text = "¿Tienen la Dell XPS 13 en stock? Necesito 10 para mañana"
    assert redact(text).text == text and redact(text).mapping == {}
    assert redact("").text == "" and find("") == []


# --- stable placeholders -----------------------------------------------------------------------------------

def test_the_same_value_twice_gets_the_same_placeholder_even_spelled_differently() -> None:
    out = redact("al 6123-4567 o al +507 6123 4567; ANA@x.com o ana@x.com; otro: 6234-5678, luis@x.com")

    assert out.text == "al [PHONE_1] o al [PHONE_1]; [EMAIL_1] o [EMAIL_1]; otro: [PHONE_2], [EMAIL_2]"
    assert out.mapping["[PHONE_1]"] == "6123-4567" and out.mapping["[EMAIL_1]"] == "ANA@x.com"


def test_numbering_is_shared_across_the_texts_of_one_request() -> None:
    (system, prompt), mapping = redact_all(["Tienda: ventas@tienda.pa", "Soy ana@x.com, copia a ventas@tienda.pa"])

    assert system == "Tienda: [EMAIL_1]"
    assert prompt == "Soy [EMAIL_2], copia a [EMAIL_1]"
    assert mapping == {"[EMAIL_1]": "ventas@tienda.pa", "[EMAIL_2]": "ana@x.com"}


def test_redaction_is_deterministic() -> None:
    text = "Calle 50 #23-45, 6123-4567, a@b.co"
    assert redact(text) == redact(text)


def test_placeholder_text_the_customer_typed_is_never_filled_in() -> None:
    out = redact("[PHONE_1] ya existe y llamo al 6123-4567")

    assert out.text == "[PHONE_1] ya existe y llamo al [PHONE_2]"
    assert restore(out.text, out.mapping) == "[PHONE_1] ya existe y llamo al 6123-4567"


# --- restore -----------------------------------------------------------------------------------------------

def test_restore_puts_the_values_back() -> None:
    text = "Envíen a Calle 50 #23-45; mi cel 6123-4567 y mi correo ana@x.com"
    out = redact(text)
    assert restore(out.text, out.mapping) == text
    answer = "Listo, te escribimos a [EMAIL_1] y te llamamos al [PHONE_1]. Enviamos a [ADDRESS_1]."
    assert restore(answer, out.mapping) == ("Listo, te escribimos a ana@x.com y te llamamos al 6123-4567. "
                                            "Enviamos a Calle 50 #23-45.")


def test_restore_tolerates_the_models_spelling_of_a_placeholder() -> None:
    assert restore("al [phone_1] o [ PHONE_01 ]", {"[PHONE_1]": "6123-4567"}) == "al 6123-4567 o 6123-4567"


def test_unknown_placeholders_are_left_as_they_are_and_reported() -> None:
    text = restore("llámanos al [PHONE_9] o escribe a [EMAIL_1]", {"[EMAIL_1]": "ana@x.com"})

    assert text == "llámanos al [PHONE_9] o escribe a ana@x.com"
    assert leftover_placeholders(text) == ["[PHONE_9]"]
    assert leftover_placeholders("sin marcadores [nombre]") == []


def test_restore_into_json_escapes_the_value() -> None:
    mapping = {"[ADDRESS_1]": 'Edificio "El Dorado"\\2'}
    answer = restore('{"reply": "Enviamos a [ADDRESS_1]"}', mapping, escape=json_escape)

    assert json.loads(answer) == {"reply": 'Enviamos a Edificio "El Dorado"\\2'}


@pytest.mark.parametrize("text", ["llámame al 3001234567", "mi cel 5512345678", "whatsapp 4155552671",
                                  "cel. 0414-1234567", "text me at 415 555 2671"])
def test_numbers_after_a_phone_word_are_phones_in_any_country(text: str) -> None:
    redacted = redact(text).text
    assert "[PHONE_1]" in redacted and not any(ch.isdigit() for ch in redacted.replace("[PHONE_1]", ""))
