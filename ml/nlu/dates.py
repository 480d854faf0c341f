"""Dates in chat: the relative expressions customers actually write ("mañana", "el viernes", "by Friday",
"next week", "en 3 dias") resolved in microseconds; dateparser only for the rest (month names, 15/12), since it
costs ~4 ms a call."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from ml.nlu.text import fold

WEEKDAYS = {"lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
            "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_NUMBER = r"(\d{1,2}|un|una|dos|tres|cuatro|cinco|seis|siete|one|two|three|four|five|six|seven)"
_NUMBERS = {"un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "one": 1,
            "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
RELATIVE = re.compile(
    r"(?<!\w)(?:(?P<after>pasado manana|day after tomorrow)|(?P<tomorrow>manana|tomorrow)|"
    r"(?P<today>hoy|today|tonight|esta noche)|(?P<yesterday>anteayer|antier|ayer|yesterday)|"
    r"(?P<nextweek>(?:la )?(?:proxima|siguiente) semana|next week)|(?P<weekend>(?:este )?fin de semana|"
    r"(?:this )?weekend)|(?:(?:el|este|on|by|this|next|proximo)\s+)?(?P<weekday>" + "|".join(WEEKDAYS) + r")|"
    r"(?:en|in|dentro de)\s+(?P<in_n>" + _NUMBER + r")\s+(?:dias|days)|"
    r"(?:hace\s+(?P<ago_es>" + _NUMBER + r")\s+(?:dias|semanas))|(?P<ago_en>" + _NUMBER + r")\s+days\s+ago)"
    r"(?!\w)")
# "por la mañana" / "en la mañana" is a time of day, not tomorrow.
MORNING = re.compile(r"(?:la|por la|en la|de la|esta|this)\s+$")
NEEDS_PARSER = re.compile(
    r"\b(enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?)\b")


def find_dates(text: str, now: datetime | None = None, languages: list[str] | None = None) -> list[dict]:
    now = now or datetime.now()
    folded = fold(text)
    found: list[dict] = []
    for match in RELATIVE.finditer(folded):
        when = _resolve(match, now.date(), folded)
        if when is not None:
            found.append({"text": _original(text, folded, match), "date": when.isoformat()})
    hit = NEEDS_PARSER.search(folded)
    if hit:  # only a window around the first month name or numeric date: dateparser is slow on long text
        start = max(0, hit.start() - 40)
        found += _dateparser(text[start:hit.end() + 40], now, languages)
    return list({item["date"] + item["text"]: item for item in found}.values())


def _resolve(match: re.Match[str], today: date, folded: str) -> date | None:
    kind = match.lastgroup
    groups = match.groupdict()
    if groups["tomorrow"] and MORNING.search(folded[: match.start()]):
        return None
    if groups["after"]:
        return today + timedelta(days=2)
    if groups["tomorrow"]:
        return today + timedelta(days=1)
    if groups["today"]:
        return today
    if groups["yesterday"]:
        return today - timedelta(days=2 if groups["yesterday"] in ("anteayer", "antier") else 1)
    if groups["nextweek"]:
        return today + timedelta(days=7)
    if groups["weekend"]:
        return today + timedelta(days=(5 - today.weekday()) % 7)
    if groups["weekday"]:
        ahead = (WEEKDAYS[groups["weekday"]] - today.weekday()) % 7
        return today + timedelta(days=ahead or 7)
    for name, sign in (("in_n", 1), ("ago_es", -1), ("ago_en", -1)):
        if groups.get(name):
            number = groups[name]
            days = int(number) if number.isdigit() else _NUMBERS[number]
            if name == "ago_es" and "semana" in match.group(0):
                days *= 7
            return today + timedelta(days=sign * days)
    del kind
    return None


def _original(text: str, folded: str, match: re.Match[str]) -> str:
    return text[match.start():match.end()] if len(text) == len(folded) else match.group(0)


def _dateparser(text: str, now: datetime, languages: list[str] | None) -> list[dict]:
    from dateparser.search import search_dates

    settings = {"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False,
                "RELATIVE_BASE": now.replace(tzinfo=None)}
    try:
        results = search_dates(text, languages=languages or ["es", "en"], settings=settings) or []
    except Exception:  # noqa: BLE001 - dateparser raises on odd input; dates are a nice-to-have
        return []
    return [{"text": phrase, "date": when.date().isoformat()} for phrase, when in results
            if len(phrase.strip()) > 2 and not phrase.strip().isdigit() and NEEDS_PARSER.search(fold(phrase))]
