"""Business hours from the policies file ("lunes a viernes 9:00-18:00, sábados 9:00-13:00"), as pure functions:
is the team in now, and when does it next open. Used to tell an escalated customer when a person will answer."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from ml.nlu.text import fold

Schedule = dict[int, list[tuple[time, time]]]  # weekday (Monday 0) -> opening intervals

DAY_NAMES = {
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "sabados": 5, "domingo": 6,
    "domingos": 6, "lun": 0, "mar": 1, "mie": 2, "jue": 3, "vie": 4, "sab": 5, "dom": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}
SPANISH_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:-|–|a|to|hasta)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?")
DAY_WORD = r"(" + "|".join(sorted(DAY_NAMES, key=len, reverse=True)) + r")\b"
DAY_RANGE = re.compile(DAY_WORD + r"\s*(?:a|-|–|to|through|al)\s*" + DAY_WORD)
SINGLE_DAY = re.compile(DAY_WORD)


def parse_business_hours(text: str | None) -> Schedule | None:
    """None when the text says nothing usable (then the team is treated as always in)."""
    if not text:
        return None
    schedule: Schedule = {}
    for part in re.split(r"[;,\n]| y (?=[a-z]+ \d)", fold(str(text))):
        hours = HOURS.search(part)
        if not hours:
            continue
        start = _clock(hours.group(1), hours.group(2), hours.group(3))
        end = _clock(hours.group(4), hours.group(5), hours.group(6))
        days = _days(part[: hours.start()])
        for day in days:
            schedule.setdefault(day, []).append((start, end))
    return schedule or None


def _clock(hour: str, minute: str | None, meridiem: str | None) -> time:
    h = int(hour) % 24
    if meridiem == "pm" and h < 12:
        h += 12
    if meridiem == "am" and h == 12:
        h = 0
    return time(h, int(minute or 0))


def _days(text: str) -> list[int]:
    found: list[int] = []
    for match in DAY_RANGE.finditer(text):
        first, last = DAY_NAMES[match.group(1)], DAY_NAMES[match.group(2)]
        found += [(first + i) % 7 for i in range((last - first) % 7 + 1)]
    if not found:
        found = [DAY_NAMES[m.group(1)] for m in SINGLE_DAY.finditer(text)]
    return found or list(range(7))  # hours without days: every day


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    if schedule is None:
        return True
    return any(start <= at.time() < end for start, end in schedule.get(at.weekday(), []))


def next_opening(schedule: Schedule | None, at: datetime) -> datetime:
    """`at` itself when open; otherwise the start of the next interval (within a week)."""
    if is_open(schedule, at) or schedule is None:
        return at
    for offset in range(8):
        day = (at + timedelta(days=offset)).date()
        for start, _end in sorted(schedule.get(day.weekday(), [])):
            candidate = datetime.combine(day, start, tzinfo=at.tzinfo)
            if candidate > at:
                return candidate
    return at


def when_text(schedule: Schedule | None, at: datetime, language: str) -> str:
    """"en unos minutos" / "mañana a partir de las 9:00" / "el lunes a partir de las 9:00" (or English)."""
    opening = next_opening(schedule, at)
    es = language != "en"
    if opening == at:
        return "en unos minutos" if es else "within a few minutes"
    clock = f"{opening.hour}:{opening.minute:02d}"
    days_ahead = (opening.date() - at.date()).days
    if days_ahead == 0:
        return f"hoy a partir de las {clock}" if es else f"today from {clock}"
    if days_ahead == 1:
        return f"mañana a partir de las {clock}" if es else f"tomorrow from {clock}"
    day = SPANISH_DAYS[opening.weekday()] if es else ENGLISH_DAYS[opening.weekday()]
    return f"el {day} a partir de las {clock}" if es else f"on {day} from {clock}"
