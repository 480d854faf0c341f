"""Phones and emails as people type them in Panama and Latin America."""

from __future__ import annotations

import pytest

from ml.contacts.emails import check_email, is_free_domain, mailbox_key, normalize_email, suggest_domain
from ml.contacts.phones import parse_phone


@pytest.mark.parametrize(
    "raw",
    ["6123-4567", "+507 6123 4567", "00507 6123 4567", "(507) 6123-4567", "507-6123-4567", "+50761234567",
     "Cel: 6123-4567", "61234567", 61234567.0, "011 507 6123 4567", "6123.4567"],
)
def test_panamanian_mobile_in_every_format_is_the_same_e164(raw: object) -> None:
    parsed = parse_phone(raw)
    assert parsed.e164 == "+50761234567"
    assert parsed.valid and parsed.possible
    assert parsed.line_type == "mobile"
    assert parsed.country_code == 507 and parsed.region == "PA"


def test_landline_extension_and_several_numbers() -> None:
    landline = parse_phone("223-4567")
    assert (landline.e164, landline.line_type) == ("+5072234567", "fixed_line")
    assert parse_phone("6123-4567 ext. 12").extension == "12"
    assert parse_phone("6123-4567 anexo 3").extension == "3"
    both = parse_phone("abc / 6123-4567")
    assert both.e164 == "+50761234567"


def test_default_region_is_configurable() -> None:
    assert parse_phone("55 1234 5678", "MX").e164 == "+525512345678"
    assert parse_phone("55 1234 5678", "PA").valid is False  # not a Panamanian number
    assert parse_phone("+52 55 1234 5678", "PA").region == "MX"  # an explicit prefix wins


@pytest.mark.parametrize("raw", ["", "   ", None, float("nan"), "abc", "6123-45O7", "1-800-FLOWERS", "6987-65"])
def test_bad_phones_are_not_valid_and_do_not_raise(raw: object) -> None:
    parsed = parse_phone(raw)
    assert parsed.valid is False
    assert parsed.e164 is None
    assert parsed.problem


def test_phone_parsing_is_idempotent() -> None:
    for raw in ["6123-4567", "(507) 223-4567", "+52 55 1234 5678", "+34 612 345 678"]:
        e164 = parse_phone(raw).e164
        assert e164 and parse_phone(e164).e164 == e164


def test_email_is_stripped_and_lower_cased_including_the_local_part() -> None:
    checked = check_email("  Juan.Perez@GMAIL.com ")
    assert checked.normalized == "juan.perez@gmail.com"
    assert checked.valid and checked.free is True and checked.domain == "gmail.com"
    assert normalize_email("<Maria@Hotmail.ES>") == "maria@hotmail.es"
    assert normalize_email("mailto:ana@Empresa.com.pa") == "ana@empresa.com.pa"
    assert normalize_email("josé@correo.pa") == "josé@correo.pa"  # accents in the local part are kept


@pytest.mark.parametrize("raw", ["bad@@x.com", "juan perez@gmail.com", "no-at-sign", "a@b", "foo@bar..com"])
def test_malformed_emails_are_invalid_but_kept(raw: str) -> None:
    checked = check_email(raw)
    assert checked.valid is False
    assert checked.normalized == raw.lower()
    assert checked.problem


def test_typo_domains_are_flagged_not_fixed() -> None:
    checked = check_email("Juan@gmial.com")
    assert checked.normalized == "juan@gmial.com"
    assert checked.suggestion == "juan@gmail.com"
    assert suggest_domain("hotmial.com") == "hotmail.com"
    assert suggest_domain("gmail.con") == "gmail.com"
    assert suggest_domain("yaho.com") == "yahoo.com"
    assert suggest_domain("gmail.com") is None
    assert suggest_domain("empresa.com.pa") is None
    assert check_email("ventas@ferreteria-lopez.com").suggestion is None


def test_free_mail_versus_company_domain() -> None:
    assert is_free_domain("gmail.com") and is_free_domain("cableonda.net") and is_free_domain("hotmail.es")
    assert is_free_domain("grupocalesa.com.pa") is False
    assert check_email("ventas@empresa.com.pa").free is False
    assert check_email("").free is None


def test_email_normalization_is_idempotent_and_mailbox_key_matches_gmail_variants() -> None:
    for raw in ["  Juan.Perez@GMAIL.com ", "bad@@x.com", "ANA@Empresa.COM.PA"]:
        once = normalize_email(raw)
        assert normalize_email(once) == once
    assert mailbox_key("juan.perez+tienda@googlemail.com") == mailbox_key("juanperez@gmail.com")
    assert mailbox_key("juan.perez@empresa.com") != mailbox_key("juanperez@empresa.com")
