"""Countries and cities: whatever people typed → ISO 3166-1 alpha-2 codes and canonical city names.

Matching folds case, accents and punctuation ("PANAMÁ", "panama", "Rep. de Panamá" → "PA"). Unknown
countries come back as None (the raw value stays in its own column); unknown cities come back cased but
otherwise as typed, so nothing is invented. Both functions are cached per raw value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

# alpha-2, alpha-3, then names and variants in Spanish and English (folded: lower case, no accents).
_COUNTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("PA", "PAN", ("panama", "republica de panama", "rep de panama", "rep panama", "panama republic",
                   "republic of panama", "pty")),
    ("CR", "CRI", ("costa rica",)),
    ("NI", "NIC", ("nicaragua",)),
    ("HN", "HND", ("honduras",)),
    ("SV", "SLV", ("el salvador", "salvador")),
    ("GT", "GTM", ("guatemala",)),
    ("BZ", "BLZ", ("belice", "belize")),
    ("MX", "MEX", ("mexico", "méjico", "mejico", "estados unidos mexicanos")),
    ("CO", "COL", ("colombia",)),
    ("VE", "VEN", ("venezuela",)),
    ("EC", "ECU", ("ecuador",)),
    ("PE", "PER", ("peru",)),
    ("BO", "BOL", ("bolivia",)),
    ("CL", "CHL", ("chile",)),
    ("AR", "ARG", ("argentina",)),
    ("UY", "URY", ("uruguay",)),
    ("PY", "PRY", ("paraguay",)),
    ("BR", "BRA", ("brasil", "brazil")),
    ("CU", "CUB", ("cuba",)),
    ("DO", "DOM", ("republica dominicana", "rep dominicana", "dominican republic", "rd")),
    ("PR", "PRI", ("puerto rico",)),
    ("HT", "HTI", ("haiti",)),
    ("JM", "JAM", ("jamaica",)),
    ("TT", "TTO", ("trinidad y tobago", "trinidad and tobago")),
    ("US", "USA", ("estados unidos", "estados unidos de america", "eeuu", "ee uu", "eua", "united states",
                   "united states of america", "us", "u s a", "america")),
    ("CA", "CAN", ("canada",)),
    ("ES", "ESP", ("espana", "spain", "reino de espana")),
    ("PT", "PRT", ("portugal",)),
    ("FR", "FRA", ("francia", "france")),
    ("IT", "ITA", ("italia", "italy")),
    ("DE", "DEU", ("alemania", "germany", "deutschland")),
    ("GB", "GBR", ("reino unido", "united kingdom", "uk", "inglaterra", "england", "gran bretana",
                   "great britain")),
    ("NL", "NLD", ("paises bajos", "holanda", "netherlands", "holland")),
    ("CH", "CHE", ("suiza", "switzerland")),
    ("CN", "CHN", ("china",)),
    ("JP", "JPN", ("japon", "japan")),
    ("KR", "KOR", ("corea del sur", "south korea", "corea")),
    ("IN", "IND", ("india",)),
    ("IL", "ISR", ("israel",)),
    ("LB", "LBN", ("libano", "lebanon")),
    ("TW", "TWN", ("taiwan",)),
)
# Two-letter codes that are also words or abbreviations we read otherwise are still codes: "PA" is Panama.
_COUNTRY_ALIASES: dict[str, str] = {}
for _alpha2, _alpha3, _names in _COUNTRIES:
    _COUNTRY_ALIASES[_alpha2.lower()] = _alpha2
    _COUNTRY_ALIASES[_alpha3.lower()] = _alpha2
    for _name in _names:
        _COUNTRY_ALIASES[_name] = _alpha2

COUNTRY_NAMES_ES: dict[str, str] = {
    "PA": "Panamá", "CR": "Costa Rica", "NI": "Nicaragua", "HN": "Honduras", "SV": "El Salvador",
    "GT": "Guatemala", "MX": "México", "CO": "Colombia", "VE": "Venezuela", "EC": "Ecuador", "PE": "Perú",
    "BO": "Bolivia", "CL": "Chile", "AR": "Argentina", "UY": "Uruguay", "PY": "Paraguay", "BR": "Brasil",
    "CU": "Cuba", "DO": "República Dominicana", "PR": "Puerto Rico", "US": "Estados Unidos", "CA": "Canadá",
    "ES": "España",
}

# Panamanian cities: canonical name → folded variants. Province names after a city are dropped first
# ("david chiriqui" → "david"), as are "ciudad de", "city" and "distrito de".
_PANAMA_CITIES: dict[str, tuple[str, ...]] = {
    "Panamá": ("panama", "ciudad de panama", "panama city", "cd de panama", "cdad de panama", "pty",
               "ciudad panama", "panama cuidad", "panama ciudad", "panma", "panamaa", "pnama"),
    "San Miguelito": ("san miguelito", "sanmiguelito", "s miguelito"),
    "Colón": ("colon", "ciudad de colon", "colon city"),
    "David": ("david",),
    "Santiago": ("santiago de veraguas", "santiago"),
    "Chitré": ("chitre",),
    "Las Tablas": ("las tablas", "lastablas"),
    "La Chorrera": ("la chorrera", "chorrera"),
    "Arraiján": ("arraijan", "arraiján"),
    "Penonomé": ("penonome",),
    "Aguadulce": ("aguadulce", "agua dulce"),
    "Boquete": ("boquete", "bajo boquete"),
    "Bocas del Toro": ("bocas del toro", "bocas", "isla colon"),
    "Changuinola": ("changuinola",),
    "Puerto Armuelles": ("puerto armuelles", "pto armuelles"),
    "Almirante": ("almirante",),
    "Chepo": ("chepo",),
    "Antón": ("anton",),
    "Coronado": ("coronado",),
    "Capira": ("capira",),
    "Boquerón": ("boqueron",),
    "Bugaba": ("bugaba",),
    "Volcán": ("volcan",),
    "Soná": ("sona",),
    "Los Santos": ("los santos", "la villa de los santos", "villa de los santos"),
    "Macaracas": ("macaracas",),
    "Pedasí": ("pedasi",),
    "Portobelo": ("portobelo",),
    "Veracruz": ("veracruz",),
    "Nuevo Arraiján": ("nuevo arraijan",),
    "Tocumen": ("tocumen",),
    "Juan Díaz": ("juan diaz",),
    "Pacora": ("pacora",),
    "Las Cumbres": ("las cumbres",),
}
# Big Latin American cities people write without accents or with their common short forms.
_OTHER_CITIES: dict[str, tuple[str, ...]] = {
    "San José": ("san jose",),
    "Ciudad de México": ("ciudad de mexico", "cdmx", "mexico df", "df", "mexico city", "cd de mexico"),
    "Bogotá": ("bogota", "santa fe de bogota"),
    "Medellín": ("medellin",),
    "Cali": ("cali",),
    "Barranquilla": ("barranquilla",),
    "Cartagena": ("cartagena", "cartagena de indias"),
    "Caracas": ("caracas",),
    "Quito": ("quito",),
    "Guayaquil": ("guayaquil",),
    "Lima": ("lima",),
    "Santo Domingo": ("santo domingo",),
    "San Juan": ("san juan",),
    "Miami": ("miami",),
    "Madrid": ("madrid",),
    "Barcelona": ("barcelona",),
    "Guatemala": ("ciudad de guatemala", "guatemala city"),
    "Tegucigalpa": ("tegucigalpa",),
    "San Salvador": ("san salvador",),
    "Managua": ("managua",),
    "Buenos Aires": ("buenos aires", "bs as", "caba"),
    "Monterrey": ("monterrey",),
    "Guadalajara": ("guadalajara",),
}


def _aliases(cities: dict[str, tuple[str, ...]]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for canonical, variants in cities.items():
        aliases[fold(canonical)] = canonical
        for variant in variants:
            aliases[fold(variant)] = canonical
    return aliases

_PANAMA_PROVINCES = (
    "chiriqui", "veraguas", "herrera", "los santos", "cocle", "colon", "bocas del toro", "darien",
    "panama oeste", "panama", "guna yala", "kuna yala", "ngabe bugle", "embera",
)
_CITY_PREFIXES = re.compile(r"^(?:ciudad de|cuidad de|cdad de|cd de|distrito de|corregimiento de|city of)\s+")
_CITY_SUFFIXES = re.compile(r"\s+(?:city|ciudad|centro|rep(?:ublica)?(?: de)? panama|pa|pty)$")
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: "Rep. de Panamá" → "rep de panama"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", plain)).strip()


def _text(raw: object) -> str | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = unicodedata.normalize("NFC", str(raw)).strip()
    return text or None


@lru_cache(maxsize=50_000)
def _country_cached(text: str) -> str | None:
    key = fold(text)
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    # "+507" or "507": a calling code stands for its main country.
    digits = key.replace(" ", "")
    if digits.isdigit():
        import phonenumbers

        region = phonenumbers.region_code_for_country_code(int(digits))
        return None if region == "ZZ" else region
    return None


def normalize_country(raw: object) -> str | None:
    """A country as typed → ISO alpha-2 ("Panamá", "PAN", "panama", "Rep. de Panamá", "+507" → "PA")."""
    text = _text(raw)
    return _country_cached(text) if text else None


def _title(text: str) -> str:
    small = {"de", "del", "la", "las", "los", "y", "el"}
    words = _SPACES.split(text.strip())
    return " ".join(w.lower() if i and w.lower() in small else w[:1].upper() + w[1:].lower() for i, w in enumerate(words))


_PANAMA_CITY_ALIASES = _aliases(_PANAMA_CITIES)
_OTHER_CITY_ALIASES = _aliases(_OTHER_CITIES)


@lru_cache(maxsize=50_000)
def _city_cached(text: str, country: str | None) -> str:
    # Panamanian spellings apply when the contact is in Panama or we do not know (the default market);
    # "Santiago" in Chile stays "Santiago", "Colón" in Honduras is not Panama's Colón province.
    aliases = _OTHER_CITY_ALIASES if country not in (None, "PA") else _PANAMA_CITY_ALIASES | _OTHER_CITY_ALIASES
    key = fold(text)
    if key in aliases:
        return aliases[key]
    candidates = [key]
    stripped = _CITY_SUFFIXES.sub("", _CITY_PREFIXES.sub("", key))
    candidates.append(stripped)
    for province in _PANAMA_PROVINCES:
        for candidate in list(candidates):
            if candidate.endswith(" " + province) and len(candidate) > len(province) + 1:
                candidates.append(candidate[: -len(province) - 1].strip())
    for candidate in candidates[1:]:
        candidate = _CITY_SUFFIXES.sub("", _CITY_PREFIXES.sub("", candidate))
        if candidate in aliases:
            return aliases[candidate]
    # Unknown: keep the words (and accents) as typed, only cased.
    cleaned = _SPACES.sub(" ", re.sub(r"[^\w\s',.-]|_", " ", text)).strip(" .,-")
    return _title(cleaned) if cleaned else text


def normalize_city(raw: object, country: str | None = None) -> str | None:
    """A city as typed → its canonical name ("panama", "Panamá City", "ciudad de panama" → "Panamá";
    "david chiriqui" → "David"); unknown cities are only cased ("el dorado" → "El Dorado").

    `country` is the contact's ISO alpha-2 code when known: Panamanian spellings are applied for "PA" or None.
    """
    text = _text(raw)
    return _city_cached(text, country.upper() if isinstance(country, str) and country else None) if text else None
