from datetime import datetime
from zoneinfo import ZoneInfo

from serving.services.business_hours import is_open, next_opening, parse_business_hours, when_text

PANAMA = ZoneInfo("America/Panama")
HOURS = parse_business_hours("lunes a viernes 9:00-18:00, sábados 9:00-13:00")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PANAMA)  # 2026-11-23 is a Monday


def test_the_policies_sentence_becomes_a_weekly_schedule() -> None:
    assert is_open(HOURS, at(25, 10)) and not is_open(HOURS, at(25, 18)) and not is_open(HOURS, at(25, 8, 59))
    assert is_open(HOURS, at(28, 12)) and not is_open(HOURS, at(28, 13)) and not is_open(HOURS, at(29, 12))
    english = parse_business_hours("Mon-Fri 9am-6pm")
    assert is_open(english, at(27, 17, 59)) and not is_open(english, at(28, 10))


def test_when_a_person_will_answer() -> None:
    assert when_text(HOURS, at(25, 10), "es") == "en unos minutos"
    assert when_text(HOURS, at(25, 7), "es") == "hoy a partir de las 9:00"
    assert when_text(HOURS, at(25, 20), "es") == "mañana a partir de las 9:00"
    assert when_text(HOURS, at(28, 14), "es") == "el lunes a partir de las 9:00"
    assert when_text(HOURS, at(28, 14), "en") == "on Monday from 9:00"
    assert next_opening(HOURS, at(27, 19)) == at(28, 9)


def test_no_usable_hours_means_always_in() -> None:
    assert parse_business_hours("") is None and parse_business_hours("siempre atentos") is None
    assert is_open(None, at(29, 3)) and when_text(None, at(29, 3), "en") == "within a few minutes"
