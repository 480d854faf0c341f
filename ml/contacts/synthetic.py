"""Realistic dirty contacts for demos and benchmarks, with planted duplicates and their ground truth.

`dirty_contacts(n, seed)` gives n rows shaped like what a Panamanian shop's CRM collects: Spanish names from
Faker's es_MX and es_ES lists (common names much more common, so unrelated "María González"s exist, as in
life), Panamanian mobiles (+507 6xxx-xxxx) and landlines (2xx-xxxx / 3xx-xxxx) typed a dozen ways, a few
foreign numbers, free-mail and company emails, country and city spelt every which way, missing fields, case
and accent noise, swapped first/last names, typo email domains, and ~1 % junk / test rows.

A share of the rows (`duplicate_share`) are extra records of a person already present, re-typed with their
own noise (different phone format, a name typo, a missing second surname, no email, another city spelling).
The second return value holds every true pair of contact ids (sorted within the pair), for dedup metrics.
Same (n, seed, duplicate_share) → same frame and pairs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from faker import Faker
from faker.providers.person.es_ES import Provider as SpainNames
from faker.providers.person.es_MX import Provider as MexicoNames

FREE_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "icloud.com", "cableonda.net",
                "hotmail.es", "yahoo.es")
FREE_WEIGHTS = (0.50, 0.22, 0.07, 0.07, 0.03, 0.04, 0.04, 0.03)
TYPO_DOMAINS = {"gmail.com": ("gmial.com", "gmal.com", "gmail.con", "gmai.com", "gmail.co"),
                "hotmail.com": ("hotmial.com", "hotmal.com", "hotmail.co", "homtail.com"),
                "yahoo.com": ("yaho.com", "yahoo.con"), "outlook.com": ("outlok.com",)}
PANAMA_CITIES = (
    ("Panamá", ("Panamá", "panama", "PANAMA", "Ciudad de Panamá", "ciudad de panama", "Panama City", "Panamá City",
                "pty", "Panamá, Panamá")),
    ("San Miguelito", ("San Miguelito", "san miguelito", "SAN MIGUELITO")),
    ("La Chorrera", ("La Chorrera", "chorrera", "la chorrera, panamá oeste")),
    ("Arraiján", ("Arraiján", "arraijan", "ARRAIJAN")),
    ("David", ("David", "david chiriqui", "David, Chiriquí", "DAVID")),
    ("Colón", ("Colón", "colon", "COLON")),
    ("Santiago", ("Santiago", "santiago de veraguas", "Santiago, Veraguas")),
    ("Chitré", ("Chitré", "chitre", "chitre herrera")),
    ("Penonomé", ("Penonomé", "penonome")),
    ("Las Tablas", ("Las Tablas", "las tablas")),
    ("Boquete", ("Boquete", "boquete")),
)
CITY_WEIGHTS = (0.55, 0.10, 0.07, 0.06, 0.06, 0.05, 0.03, 0.03, 0.02, 0.02, 0.01)
PANAMA_COUNTRY = ("Panamá", "Panama", "PANAMA", "panamá", "PA", "PAN", "Rep. de Panamá", "", None)
FOREIGN = (  # alpha-2, country as typed, calling code, national number maker
    ("MX", "México", "52", lambda r: "55" + _digits(r, 8)),
    ("CO", "Colombia", "57", lambda r: "3" + str(r.integers(0, 3)) + _digits(r, 8)),
    ("CR", "Costa Rica", "506", lambda r: "8" + _digits(r, 7)),
    ("VE", "Venezuela", "58", lambda r: "41" + str(r.choice([2, 4, 6])) + _digits(r, 7)),
    ("ES", "España", "34", lambda r: "6" + _digits(r, 8)),
    ("US", "USA", "1", lambda r: "305" + str(r.integers(2, 10)) + _digits(r, 6)),
)
FOREIGN_CITY = {"MX": "Ciudad de México", "CO": "Bogotá", "CR": "San José", "VE": "Caracas", "ES": "Madrid",
                "US": "Miami"}
JUNK_NAMES = (("Test", "Test"), ("prueba", None), ("asdf", "asdf"), ("x", None), ("Cliente", "Prueba"),
              ("qwerty", None), ("TEST", "USER"), ("jajaja", None), ("N/A", None), ("a", "b"))
JUNK_EMAILS = ("test@example.com", "prueba@test.com", "asdf@asdf.com", "sincorreo@gmail.com", "test@gmail.com",
               None, "notiene@hotmail.com", "a@a.com")
JUNK_PHONES = ("00000000", "12345678", "6000-0000", "11111111", "asdf", None, "6666-6666", "99999999")
_PHONE_FORMAT_WEIGHTS = np.array([20, 18, 10, 10, 4, 3, 4, 6, 6, 2, 2, 2, 2], dtype=float) / 89
CHANNELS = ("whatsapp", "whatsapp", "whatsapp", "instagram", "messenger", "web", "tienda")


def _digits(rng: np.random.Generator, k: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=k))


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch) or ch == "\u0303"))


def _zipf_weights(size: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative Zipf-like weights over a shuffled list: a few names are very common, most are rare."""
    weights = 1.0 / np.arange(1, size + 1) ** 0.9
    rng.shuffle(weights)
    return np.cumsum(weights / weights.sum())


@dataclass
class _Person:
    given: list[str]
    surnames: list[str]
    country: str  # alpha-2
    calling_code: str
    national: str | None  # digits, no country code
    email_local: str | None
    email_domain: str | None
    city: str  # canonical
    channel: str
    created_at: pd.Timestamp
    junk: tuple[object, object, object, object] | None = None  # first, last, email, phone as typed
    extras: dict[str, object] = field(default_factory=dict)


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        fake = Faker(["es_MX", "es_ES"])
        fake.seed_instance(seed)
        self.companies = sorted({self._company_domain(fake) for _ in range(400)})
        female = sorted(set(MexicoNames.first_names_female) | set(SpainNames.first_names_female))
        male = sorted(set(MexicoNames.first_names_male) | set(SpainNames.first_names_male))
        self.given_pools = [(female, _zipf_weights(len(female), self.rng)), (male, _zipf_weights(len(male), self.rng))]
        self.surnames = sorted(set(MexicoNames.last_names) | set(SpainNames.last_names))
        self.surnames_cum = _zipf_weights(len(self.surnames), self.rng)
        self.now = pd.Timestamp("2025-06-30T12:00:00Z")
        # A mailbox belongs to one person: a provider makes the second "ana.ruiz@gmail.com" pick another name.
        self.taken_emails: set[str] = set()

    @staticmethod
    def _company_domain(fake: Faker) -> str:
        word = _strip_accents(fake.last_name()).lower().replace(" ", "")
        suffix = fake.random_element(("com.pa", "com", "com.pa", "net", "pa", "com.mx"))
        kind = fake.random_element(("", "grupo", "corp", "inversiones", "distribuidora", "servicios"))
        return f"{kind}{word}.{suffix}"

    def choice(self, options, p=None):  # type: ignore[no-untyped-def]
        if p is None:
            return options[int(self.rng.integers(0, len(options)))]
        return options[min(int(np.searchsorted(np.cumsum(p), self.rng.random())), len(options) - 1)]

    def draw(self, pool: list[str], cumulative: np.ndarray, k: int) -> list[str]:
        picked: list[str] = []
        while len(picked) < k:
            name = pool[min(int(np.searchsorted(cumulative, self.rng.random())), len(pool) - 1)]
            if name not in picked:
                picked.append(name)
        return picked

    def person(self) -> _Person:
        rng = self.rng
        pool, cumulative = self.given_pools[int(rng.integers(0, 2))]
        given = self.draw(pool, cumulative, 1 + int(rng.random() < 0.3))
        surnames = self.draw(self.surnames, self.surnames_cum, 1 + int(rng.random() < 0.65))
        roll = rng.random()
        if roll < 0.93:
            country, code = "PA", "507"
            national = ("6" + _digits(rng, 7)) if rng.random() < 0.82 else (str(rng.choice([2, 3, 9])) + _digits(rng, 6))
            city = self.choice([c for c, _ in PANAMA_CITIES], p=CITY_WEIGHTS)
        else:
            country, _typed, code, make = FOREIGN[int(rng.integers(0, len(FOREIGN)))]
            national = make(rng)
            city = FOREIGN_CITY[country]
        if rng.random() < 0.72:
            base = _strip_accents(given[0]).lower().replace(" ", "")
            sur = _strip_accents(surnames[0]).lower().replace(" ", "")
            style = int(rng.integers(0, 5))
            local = (f"{base}.{sur}", f"{base[0]}{sur}", f"{base}{sur}{rng.integers(1, 99)}", f"{base}_{sur}",
                     f"{base}{rng.integers(70, 100)}")[style]
            domain = self.choice(self.companies) if rng.random() < 0.18 else self.choice(FREE_DOMAINS, FREE_WEIGHTS)
            while f"{local}@{domain}" in self.taken_emails:
                local = f"{local}{rng.integers(1, 1000)}"
            self.taken_emails.add(f"{local}@{domain}")
        else:
            local = domain = None
        created = self.now - pd.Timedelta(seconds=int(rng.integers(0, 730 * 86400)))
        return _Person(given, surnames, country, code, national, local, domain, city,
                       self.choice(CHANNELS), created)

    def junk_person(self) -> _Person:
        first, last = self.choice(JUNK_NAMES)
        person = self.person()
        person.junk = (first, last, self.choice(JUNK_EMAILS), self.choice(JUNK_PHONES))
        return person

    # -- rendering: how one record of a person gets typed ------------------------------------------------
    def phone_text(self, p: _Person) -> str | None:
        rng, n = self.rng, p.national
        if n is None or rng.random() < 0.07:
            return None
        if p.country != "PA":
            style = int(rng.integers(0, 3))
            return (f"+{p.calling_code} {n}", f"00{p.calling_code}{n}", f"+{p.calling_code}-{n[:3]}-{n[3:]}")[style]
        head, tail = (n[:4], n[4:]) if len(n) == 8 else (n[:3], n[3:])
        formats = (
            f"{head}-{tail}", f"+507 {head}-{tail}", f"+507 {head} {tail}", f"{n}", f"507{n}", f"00507 {head}{tail}",
            f"(507) {head}-{tail}", f"+507{n}", f"{head} {tail}", f"Cel: {head}-{tail}", f"{head}.{tail}",
            f"{head}-{tail} ext. {rng.integers(1, 300)}" if len(n) == 7 else f"{head}-{tail}",
            float(n) if rng.random() < 0.5 else f"{head}-{tail} / 2{_digits(rng, 2)}-{_digits(rng, 4)}",
        )
        return self.choice(formats, _PHONE_FORMAT_WEIGHTS)  # type: ignore[no-any-return]

    def name_case(self, text: str, style: float, accents: bool) -> str:
        if not accents:
            text = _strip_accents(text)
        if style < 0.14:
            return text.upper()
        if style < 0.30:
            return text.lower()
        return text

    def record(self, p: _Person, duplicate: bool) -> dict[str, object]:
        rng = self.rng
        if p.junk is not None:
            first, last, email, phone = p.junk
            return {"first_name": first, "last_name": last, "full_name": None, "phone": phone, "email": email,
                    "country": self.choice(PANAMA_COUNTRY), "city": self.choice(("", None, "asdf", "panama")),
                    "source_channel": p.channel, "created_at": p.created_at}
        given, surnames = list(p.given), list(p.surnames)
        if duplicate:
            if len(surnames) > 1 and rng.random() < 0.35:
                surnames = surnames[:1]  # the second surname is often left out
            if len(given) > 1 and rng.random() < 0.35:
                given = given[:1]
            if rng.random() < 0.25:
                target = surnames if rng.random() < 0.6 else given
                target[0] = _typo(target[0], rng)
        style, accents = rng.random(), rng.random() > 0.25
        first = self.name_case(" ".join(given), style, accents)
        last = self.name_case(" ".join(surnames), style, accents)
        full = None
        shape = rng.random()
        if shape < 0.10:
            full, first, last = f"{first} {last}", None, None  # only a display name, e.g. from Instagram
        elif shape < 0.13:
            first, last = last, first  # typed into the wrong boxes
        elif shape < 0.16:
            last = None
        email = None
        if p.email_local and not (duplicate and rng.random() < 0.3) and rng.random() > 0.04:
            domain = p.email_domain or ""
            if domain in TYPO_DOMAINS and rng.random() < 0.04:
                domain = self.choice(TYPO_DOMAINS[domain])
            email = f"{p.email_local}@{domain}"
            roll = rng.random()
            if roll < 0.08:
                email = email.upper()
            elif roll < 0.16:
                email = email[:1].upper() + email[1:]
            elif roll < 0.20:
                email = f" {email} "
        if p.country == "PA":
            country = self.choice(PANAMA_COUNTRY, p=np.array([30, 20, 8, 6, 8, 3, 2, 13, 10]) / 100)
            variants = dict(PANAMA_CITIES)[p.city]
            city = self.choice(variants) if rng.random() > 0.15 else None
        else:
            country = self.choice([f[1] for f in FOREIGN if f[0] == p.country] + [p.country])
            city = p.city if rng.random() > 0.3 else _strip_accents(p.city).lower()
        created = min(p.created_at + pd.Timedelta(days=int(rng.integers(0, 200))), self.now) if duplicate else p.created_at
        return {"first_name": first, "last_name": last, "full_name": full, "phone": self.phone_text(p),
                "email": email, "country": country, "city": city, "source_channel": self.choice(CHANNELS),
                "created_at": created}


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return word[:i] + word[i + 1 :]  # a letter dropped
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped
    return word[:i] + word[i] + word[i:]  # a letter doubled


def dirty_contacts(
    n: int, seed: int = 0, duplicate_share: float = 0.15, junk_share: float = 0.01
) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """n dirty contacts (columns contact_id, first_name, last_name, full_name, phone, email, country, city,
    source_channel, created_at) and the set of true duplicate pairs (contact_id_a, contact_id_b), a < b."""
    if n <= 0:
        return pd.DataFrame(columns=["contact_id", "first_name", "last_name", "full_name", "phone", "email",
                                     "country", "city", "source_channel", "created_at"]), set()
    maker = _Maker(seed)
    rng = maker.rng
    n_dup = int(round(n * duplicate_share))
    n_base = max(n - n_dup, 1)
    n_dup = n - n_base
    n_junk = int(round(n_base * junk_share))
    people = [maker.junk_person() for _ in range(n_junk)] + [maker.person() for _ in range(n_base - n_junk)]
    rows: list[dict[str, object]] = []
    entity: list[int] = []
    for i, person in enumerate(people):
        rows.append(maker.record(person, duplicate=False))
        entity.append(i)
    real = np.arange(n_junk, n_base) if n_base > n_junk else np.arange(n_base)
    for i in rng.choice(real, size=n_dup, replace=True):
        rows.append(maker.record(people[int(i)], duplicate=True))
        entity.append(int(i))
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order])
    ids = [f"c{k:07d}" for k in range(len(rows))]
    frame.insert(0, "contact_id", ids)
    entities = np.asarray(entity)[order]
    members: dict[int, list[str]] = {}
    for contact_id, person in zip(ids, entities):
        members.setdefault(int(person), []).append(contact_id)
    pairs = {tuple(sorted(pair)) for group in members.values() if len(group) > 1 for pair in combinations(group, 2)}
    return frame, pairs  # type: ignore[return-value]
