"""Personal names: split a full name into given names and surnames, and case it properly, accents kept.

Rules (Spanish-speaking customers first):
- Unicode is NFC-normalized and accents are never removed ("JOSÉ MUÑOZ" → "José Muñoz").
- Casing is applied to all-caps, all-lower and oddly cased words; a word already cased with intent
  ("McDonald", "DeAndre", "LeBlanc") is left alone.
- Particles ("de", "del", "de la", "de los", "y", "van", "von", ...) are lower-case inside a name and belong to
  the word that follows them ("Juan de la Cruz" → first "Juan", last "de la Cruz"). A surname written alone
  starts with a capital, as the RAE asks ("De la Cruz"): the first word of any cleaned field is capitalized.
- "Mc" always takes a capital after it ("MCDONALD" → "McDonald"); "Mac" only for a short list of Scottish and
  Irish names, because Spanish has Machado, Macías, Macario.
- O', D' and hyphenated parts are each capitalized ("o'neil" → "O'Neil", "garcía-lópez" → "García-López").
- Splitting: titles ("Sr.", "Dra.", "Lic.", "Ing.", "Don") and suffixes ("Jr.", "hijo", "III") are dropped;
  "Surnames, Given names" is honoured; otherwise two surnames are assumed (Spanish double surname) unless the
  name is too short: 2 words → given + surname; 3 words → given + two surnames, except when the second word is a
  common given name ("José Luis Rodríguez", "María de los Ángeles Pérez") → two given names + one surname;
  4 or more → all but the last two are given names.
nameparser parses names carrying titles, suffixes, nicknames or commas; plain names take a fast path.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

from nameparser import HumanName
from nameparser.config import Constants

PARTICLES: frozenset[str] = frozenset(
    {"de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos", "di", "van", "von", "der", "den", "du"}
)
TITLES: frozenset[str] = frozenset(
    {
        "sr", "sra", "srta", "sres", "don", "doña", "dona", "dr", "dra", "lic", "licda", "licdo", "lcda", "lcdo",
        "ing", "arq", "prof", "profa", "mr", "mrs", "ms", "miss", "mx", "sir", "padre", "fray", "sor", "hno",
    }
)
SUFFIXES: frozenset[str] = frozenset({"jr", "jr.", "hijo", "ii", "iii", "iv", "phd", "md", "sr."})
_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii"})
_MAC_NAMES = frozenset(
    {
        "macdonald", "macarthur", "mackenzie", "mackinnon", "macintosh", "macintyre", "mackay", "maclean",
        "macleod", "macmillan", "macneil", "macpherson", "macgregor", "macaulay", "macbeth", "maccallum",
    }
)
# Given names common enough in Spanish-speaking countries to mark the second word of a three-word name as a
# second given name rather than a first surname. Folded (lower case, no accents).
GIVEN_NAMES: frozenset[str] = frozenset(
    """
    adriana agustin alberto alejandra alejandro alexander alexis alfonso alfredo alicia ana andrea andres angel
    angela angeles angelica antonia antonio ariel armando arturo beatriz benjamin bernardo blanca camila carla
    carlos carmen carolina catalina cecilia cesar clara claudia concepcion cristian cristina daniel
    daniela david diana diego dolores eduardo elena elias elizabeth emilio enrique ernesto esperanza esteban
    eugenia eva fabian fatima felipe fernanda fernando francisca francisco gabriel gabriela gerardo gilberto
    gloria gonzalo graciela guadalupe guillermo gustavo hector hugo ignacio ines irene isabel ismael jaime
    javier jesus joaquin jorge jose josefa josefina juan juana julia julian julio karla laura leonardo
    leticia lourdes lucia luis luisa manuel manuela marcela margarita maria mariana mario marta martha mateo
    mauricio mercedes miguel milagros monica nicolas norma oscar pablo patricia paula pedro pilar rafael
    ramiro ramon raul regina ricardo roberto rocio rodrigo rosa rosario ruben salvador samuel santiago sara
    sergio silvia sofia soledad susana teresa tomas valentina valeria veronica vicente victor victoria
    virginia ximena yolanda
    """.split()
)

# Given names that are also frequent surnames: "Ana Santiago" is a given name and a surname.
_ALSO_SURNAMES: frozenset[str] = frozenset({"santiago", "salvador", "vicente", "david", "tomas", "ramon", "leon"})

_CONSTANTS = Constants()
_CONSTANTS.titles.add(*TITLES)
_CONSTANTS.suffix_acronyms.add("hijo")
# nameparser would glue "de la" to the last name only; we group particles ourselves.
_CONSTANTS.prefixes.remove(*[p for p in PARTICLES if p in _CONSTANTS.prefixes])

_NOT_NAME_CHARS = re.compile(r"[^\w\s'’\-.,()\"]|[\d_]")
_SPACES = re.compile(r"\s+")
_SLOW_PATH = re.compile(r"[,()\"]")


def _intentionally_cased(word: str) -> bool:
    """Two or more capitalized chunks, each one upper-case letter then lower-case ones: "McDonald", "DeAndre"."""
    if not word.isalpha() or not word[0].isupper() or not word[-1].islower():
        return False
    uppers = 0
    for previous, current in zip(word, word[1:]):
        if current.isupper():
            if previous.isupper():
                return False
            uppers += 1
    return uppers >= 1


def fold(text: str) -> str:
    """Lower case without accents, for comparisons only ("Ángeles" → "angeles")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _text(raw: object) -> str | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = unicodedata.normalize("NFC", str(raw)).replace("’", "'")
    text = _NOT_NAME_CHARS.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" .,-'")
    return text or None


def _cap(part: str) -> str:
    return part[:1].upper() + part[1:].lower()


def _case_word(word: str, position: int) -> str:
    """One word: particles, roman numerals, Mc/Mac, O'/D', hyphens; intentional mixed case kept."""
    if not word:
        return word
    if _intentionally_cased(word):
        return word  # "McDonald", "DeAndre": someone cased it on purpose
    lower = word.lower()
    if lower in PARTICLES and position > 0:
        return lower
    if lower in _ROMAN and position > 0:
        return lower.upper()
    if "-" in lower:
        return "-".join(_case_word(part, 1 if i else position) if part not in PARTICLES else _cap(part)
                        for i, part in enumerate(lower.split("-")))
    if "'" in lower:
        head, _, tail = lower.partition("'")
        if len(head) == 1 and tail:
            return f"{head.upper()}'{_case_word(tail, 1)}"
        return _cap(head) + "'" + tail
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + _cap(lower[2:])
    if lower in _MAC_NAMES:
        return "Mac" + _cap(lower[3:])
    return _cap(lower)


def proper_case(raw: object) -> str | None:
    """Case a name field: "MARÍA DE LOS ÁNGELES" → "María de los Ángeles", "mcdonald" → "McDonald"."""
    text = _text(raw)
    if text is None:
        return None
    text = text.replace(",", " ").replace("(", " ").replace(")", " ").replace('"', " ")
    words = [w for w in _SPACES.split(text.strip()) if w.strip(".")]
    return " ".join(_case_word(word, i) for i, word in enumerate(words)) or None


def _units(words: list[str]) -> list[list[str]]:
    """Group particles with the word after them: ["juan","de","la","cruz"] → [["juan"],["de","la","cruz"]]."""
    units: list[list[str]] = []
    pending: list[str] = []
    for word in words:
        if word.lower() in PARTICLES:
            pending.append(word)
            continue
        units.append(pending + [word])
        pending = []
    if pending:  # a trailing particle ("Juan de") belongs to the last unit
        if units:
            units[-1].extend(pending)
        else:
            units.append(pending)
    return units


def _is_given(unit: list[str]) -> bool:
    head = [w for w in unit if w.lower() not in PARTICLES]
    return bool(head) and fold(head[0]) in GIVEN_NAMES


def _split_words(words: list[str]) -> tuple[list[str], list[str]]:
    units = _units(words)
    if not units:
        return [], []
    if len(units) == 1:
        return units[0], []
    if len(units) == 2:
        # "Juan Carlos", "Ana María": two given names and no surname.
        both_given = _is_given(units[0]) and _is_given(units[1]) and len(units[1]) == 1
        if both_given and fold(units[1][0]) not in _ALSO_SURNAMES:
            return units[0] + units[1], []
        given, surnames = units[:1], units[1:]
    elif len(units) == 3:
        second_is_given = _is_given(units[1]) and (units[1][0].lower() in PARTICLES or len(units[1]) == 1)
        given, surnames = (units[:2], units[2:]) if second_is_given else (units[:1], units[1:])
    else:
        given, surnames = units[:-2], units[-2:]
    return [w for u in given for w in u], [w for u in surnames for w in u]


def _strip_titles_and_suffixes(words: list[str]) -> list[str]:
    while words and words[0].lower().rstrip(".") in TITLES and len(words) > 1:
        words = words[1:]
    while words and (words[-1].lower() in SUFFIXES or words[-1].lower().rstrip(".") in SUFFIXES) and len(words) > 1:
        words = words[:-1]
    return words


@lru_cache(maxsize=500_000)
def _split_cached(text: str) -> tuple[str | None, str | None]:
    if _SLOW_PATH.search(text):
        parsed = HumanName(text, constants=_CONSTANTS)
        if "," in text and parsed.last:
            given_words = f"{parsed.first} {parsed.middle}".split()
            surname_words = parsed.last.split()
        else:
            rest = " ".join(p for p in (parsed.first, parsed.middle, parsed.last) if p)
            given_words, surname_words = _split_words(_strip_titles_and_suffixes(rest.split()))
    else:
        given_words, surname_words = _split_words(_strip_titles_and_suffixes(text.split()))
    return proper_case(" ".join(given_words)), proper_case(" ".join(surname_words))


def split_name(raw: object) -> tuple[str | None, str | None]:
    """A full name → (given names, surnames), cleaned and cased. Cached per raw value."""
    text = _text(raw)
    if text is None:
        return None, None
    return _split_cached(text)


def clean_name_parts(first: object, last: object) -> tuple[str | None, str | None]:
    """Clean a (first, last) pair as typed into two fields.

    When only one field is filled and it holds several words, it is split as a full name; a single word in
    the first-name field stays the first name. Titles in front of the first name are dropped.
    """
    first_text, last_text = _text(first), _text(last)
    if first_text and not last_text:
        return split_name(first_text)
    if last_text and not first_text:
        return None, proper_case(last_text)
    first_words = _strip_titles_and_suffixes(first_text.split()) if first_text else []
    last_words = _strip_titles_and_suffixes(last_text.split()) if last_text else []
    return proper_case(" ".join(first_words)), proper_case(" ".join(last_words))
