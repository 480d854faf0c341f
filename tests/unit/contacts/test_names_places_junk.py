"""Names, places and junk rules on Panamanian and Latin American data."""

from __future__ import annotations

import pytest

from ml.contacts.junk import email_reasons, is_keyboard_mash, name_reasons, phone_reasons
from ml.contacts.names import clean_name_parts, proper_case, split_name
from ml.contacts.places import normalize_city, normalize_country


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MARÍA JOSÉ GARCÍA LÓPEZ", ("María José", "García López")),
        ("juan pérez gonzález", ("Juan", "Pérez González")),
        ("José Luis Rodríguez", ("José Luis", "Rodríguez")),
        ("juan de la cruz pérez", ("Juan", "De la Cruz Pérez")),
        ("maría de los ángeles lópez", ("María de los Ángeles", "López")),
        ("MARIA DEL CARMEN PEREZ GARCIA", ("Maria del Carmen", "Perez Garcia")),
        ("García López, María José", ("María José", "García López")),
        ("Dr. José Luis Rodríguez", ("José Luis", "Rodríguez")),
        ("Lic. Ana Pérez", ("Ana", "Pérez")),
        ("Sr. Pedro Pablo O'Neil Jr.", ("Pedro Pablo", "O'Neil")),
        ("KEVIN McCARTHY", ("Kevin", "McCarthy")),
        ("ROSA MACHADO", ("Rosa", "Machado")),
        ("ñandú álvarez-ochoa", ("Ñandú", "Álvarez-Ochoa")),
        ("Juan Carlos", ("Juan Carlos", None)),
        ("Ana", ("Ana", None)),
        ("José   Muñoz 🌸", ("José", "Muñoz")),
    ],
)
def test_full_names_split_and_cased_with_accents_kept(raw: str, expected: tuple[str, str | None]) -> None:
    assert split_name(raw) == expected


def test_proper_case_rules() -> None:
    assert proper_case("MARÍA DE LOS ÁNGELES") == "María de los Ángeles"
    assert proper_case("mcdonald") == "McDonald"
    assert proper_case("MACDONALD") == "MacDonald"
    assert proper_case("macías") == "Macías"
    assert proper_case("DeAndre") == "DeAndre"  # intentional casing is kept
    assert proper_case("d'angelo") == "D'Angelo"
    assert proper_case("   ") is None


def test_two_name_fields() -> None:
    assert clean_name_parts("JUAN CARLOS", "pérez de la rosa") == ("Juan Carlos", "Pérez de la Rosa")
    assert clean_name_parts("Juan Pérez", None) == ("Juan", "Pérez")  # full name typed in the first box
    assert clean_name_parts(None, "de la cruz") == (None, "De la Cruz")
    assert clean_name_parts("Sra. Ana", "LÓPEZ") == ("Ana", "López")


def test_name_cleaning_is_idempotent() -> None:
    for raw in ["MARÍA JOSÉ GARCÍA LÓPEZ", "juan de la cruz pérez", "KEVIN McCARTHY", "García López, María José"]:
        first, last = split_name(raw)
        assert clean_name_parts(first, last) == (first, last)


@pytest.mark.parametrize(
    "raw", ["Panamá", "PANAMA", "panama", "pa", "PAN", "Rep. de Panamá", "República de Panamá", "+507", " Panamá "]
)
def test_panama_in_every_spelling_is_pa(raw: str) -> None:
    assert normalize_country(raw) == "PA"


def test_other_countries_and_unknowns() -> None:
    assert normalize_country("México") == "MX"
    assert normalize_country("EE.UU.") == "US"
    assert normalize_country("españa") == "ES"
    assert normalize_country("COL") == "CO"
    assert normalize_country("Narnia") is None
    assert normalize_country("") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("panama", "Panamá"), ("Panamá City", "Panamá"), ("ciudad de panama", "Panamá"), ("PTY", "Panamá"),
        ("Panamá, Panamá", "Panamá"), ("david chiriqui", "David"), ("David, Chiriquí", "David"),
        ("chitre herrera", "Chitré"), ("ARRAIJAN", "Arraiján"), ("la chorrera, panamá oeste", "La Chorrera"),
        ("san miguelito", "San Miguelito"), ("COLÓN", "Colón"), ("el dorado", "El Dorado"),
    ],
)
def test_panamanian_city_variants(raw: str, expected: str) -> None:
    assert normalize_city(raw) == expected
    assert normalize_city(expected) == expected  # idempotent


def test_city_spellings_depend_on_country() -> None:
    assert normalize_city("santiago") == "Santiago"
    assert normalize_city("Panamá City", "CL") != "Panamá"  # Panamanian variants only for PA or unknown
    assert normalize_city("bogota", "CO") == "Bogotá"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("Test User", "test_name"), ("Cliente Prueba", "test_name"), ("asdf", "test_name"),
     ("Sdfghj", "keyboard_mash_name"), ("jajaja", "keyboard_mash_name"), ("x", "one_letter_name"),
     ("sin nombre", "placeholder_name"), ("N/A", "placeholder_name"), ("Juan 123", "digits_in_name")],
)
def test_junk_names(name: str, reason: str) -> None:
    assert reason in name_reasons(name)


@pytest.mark.parametrize(
    "name", ["María José García", "Prieto", "Asdrúbal Ortiz", "Ñañez Ñuño", "J. Pérez", "Aaron Lynn", "Yupanqui"]
)
def test_real_names_are_not_junk(name: str) -> None:
    assert name_reasons(name) == ()
    assert not is_keyboard_mash(name.split()[0])


def test_junk_emails_and_phones() -> None:
    assert "test_email" in email_reasons("test@gmail.com")
    assert "test_email" in email_reasons("prueba123@hotmail.com")
    assert "placeholder_email" in email_reasons("ana@example.com")
    assert "placeholder_email" in email_reasons("juan@test.com")
    assert "placeholder_email" in email_reasons("sincorreo@gmail.com")
    assert "disposable_email" in email_reasons("juan@mailinator.com")
    assert email_reasons("juan.perez@gmail.com") == ()
    assert email_reasons("correo@ferreteria.com.pa") == ()  # a company's role address is real
    assert phone_reasons("00000000") == ("repeated_digits_phone",)
    assert phone_reasons("6000-0000", "60000000") == ("repeated_digits_phone",)
    assert phone_reasons("12345678") == ("sequential_digits_phone",)
    assert phone_reasons("asdf") == ("test_phone",)
    assert phone_reasons("6123-4567", "61234567") == ()
    assert phone_reasons("6987-1234", "69871234") == ()
