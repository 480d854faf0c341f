"""contacts_enriched (flow 20): what a contact's phone, email, messages and orders tell about them.

`enrich_contacts(contacts, messages, orders, now)` takes the output of `clean_contacts` (it needs phone_e164
and email_domain / email_free / email_suggestion when present, and an id column) and returns one row per
contact, in the same order, with:

phone       phone_region_desc   geocoder description, Spanish first then English ("Panamá", "Ciudad de México")
            phone_carrier       the carrier the number range was allocated to (not reliable after number
                                portability; phonenumbers' carrier data, Spanish then English names)
            phone_time_zones    ";"-joined IANA zones ("America/Panama"); phone_time_zone = the first one
email       email_kind          "free" (consumer mailbox), "company", "free_typo" (a typo of a free-mail domain,
                                e.g. gmial.com), or None without a valid email
            company_domain      the domain when email_kind == "company"
messages    languages, channels ";"-joined sorted distinct values; primary_language = most frequent
            message_count, inbound_count, outbound_count
            first_seen_at, last_seen_at   first / last inbound message (all messages when there is no direction
                                column), widened by the contact's created_at when it has one
orders      order_count, revenue, avg_order_value, first_order_at, last_order_at
            recency_days, frequency (= order_count), monetary (= revenue); orders whose status is in
            EXCLUDED_ORDER_STATUSES (draft, cancelled, refunded, failed, ...) do not count
            r_score, f_score, m_score (1-5) and rfm_segment, by the fixed rules in `RfmRules`

Times are read as UTC (naive timestamps are taken to be UTC). `now` defaults to the current UTC time; pass it
for reproducible results.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import PhoneNumberType, carrier, geocoder, timezone

from ml.contacts.emails import FREE_EMAIL_DOMAINS

EXCLUDED_ORDER_STATUSES: frozenset[str] = frozenset(
    {"draft", "cancelled", "canceled", "refunded", "failed", "void", "voided", "rejected", "abandoned"}
)


@dataclass(frozen=True)
class RfmRules:
    """Fixed, documented thresholds (not quantiles, so a contact's segment does not move when others buy).

    Scores (1-5):
      recency_days <= 30 → 5, <= 60 → 4, <= 90 → 3, <= 180 → 2, else 1
      frequency    >= 10 → 5, >= 5 → 4, >= 3 → 3, == 2 → 2, 1 → 1
      monetary     >= 1000 → 5, >= 500 → 4, >= 200 → 3, >= 50 → 2, else 1  (order currency, USD = PAB)
    Segment, first rule that matches, with FM = rounded mean of f_score and m_score:
      no counted order         → "prospect"
      R >= 4 and FM >= 4       → "champion"
      R >= 3 and FM >= 3       → "loyal"
      R >= 4                   → "new_customer"     (recent, few / small orders)
      R == 3                   → "needs_attention"
      R <= 2 and FM >= 3       → "at_risk"          (used to buy a lot, not lately)
      R == 2                   → "hibernating"
      otherwise (R == 1)       → "lost"
    """

    recency_days: tuple[int, int, int, int] = (30, 60, 90, 180)
    frequency: tuple[int, int, int, int] = (10, 5, 3, 2)
    monetary: tuple[float, float, float, float] = (1000.0, 500.0, 200.0, 50.0)


def _utc(series: pd.Series) -> pd.Series:
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        # Mixed ISO shapes ("2025-01-01T00:00:00Z", "2025-03-01") in one column.
        return pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    return pd.to_datetime(series, errors="coerce", utc=True)


def _now(now: object) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz="UTC")
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


_CARRIER_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER})


@lru_cache(maxsize=200_000)
def phone_facts(e164: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(region description, carrier, time zones) of a valid E.164 number, Spanish names first.

    Same answers as geocoder.description_for_number / carrier.name_for_number / timezone.time_zones_for_number,
    with the number's type computed once instead of once per call (the type check was 80 % of the time)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None, None, ()
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        return None, None, ()
    geographical = phonenumbers.is_number_type_geographical(number_type, number.country_code)
    describe = geocoder.description_for_valid_number if geographical else geocoder.country_name_for_number
    region = describe(number, "es") or describe(number, "en")
    operator = None
    if number_type in _CARRIER_TYPES:
        operator = carrier.name_for_valid_number(number, "es") or carrier.name_for_valid_number(number, "en")
    if geographical:
        zones = timezone.time_zones_for_geographical_number(number)
    else:
        zones = timezone._country_level_time_zones_for_number(number)
    return region or None, operator or None, tuple(z for z in zones if z != "Etc/Unknown")


def _id_column(df: pd.DataFrame, id_column: str | None) -> str:
    if id_column:
        return id_column
    for candidate in ("contact_id", "id"):
        if candidate in df.columns:
            return candidate
    raise KeyError("contacts need a contact_id (or id) column, or pass id_column=")


def _score(values: np.ndarray, thresholds: tuple[float, ...], higher_is_better: bool) -> np.ndarray:
    score = np.ones(len(values), dtype=int)
    for points, threshold in zip((5, 4, 3, 2), thresholds):
        hit = values >= threshold if higher_is_better else values <= threshold
        score = np.where((score == 1) & hit, points, score)
    return score


def rfm_segment(r: int, f: int, m: int) -> str:
    """The segment of one buying contact from its scores (see RfmRules)."""
    fm = int(np.floor((f + m) / 2 + 0.5))
    if r >= 4 and fm >= 4:
        return "champion"
    if r >= 3 and fm >= 3:
        return "loyal"
    if r >= 4:
        return "new_customer"
    if r == 3:
        return "needs_attention"
    if fm >= 3:
        return "at_risk"
    if r == 2:
        return "hibernating"
    return "lost"


def _distinct_joined(frame: pd.DataFrame, id_col: str, column: str) -> pd.Series:
    """Per id, the sorted distinct non-empty values of `column`, ";"-joined. Vectorised with a bit mask per
    id (channels and languages have few distinct values), then one string per distinct mask."""
    sub = frame[[id_col, column]].dropna()
    text = sub[column].astype(str)
    sub = sub.assign(_value=text)[text != ""]
    codes, uniques = pd.factorize(sub["_value"], sort=True)
    if len(uniques) > 60:
        return sub.groupby(id_col, sort=False)["_value"].agg(lambda v: ";".join(sorted(set(v))))
    pairs = pd.DataFrame({id_col: sub[id_col].to_numpy(), "_bit": np.left_shift(np.int64(1), codes.astype(np.int64))})
    masks = pairs.drop_duplicates().groupby(id_col, sort=False)["_bit"].sum()
    names = list(uniques)
    labels = {mask: ";".join(names[i] for i in range(len(names)) if mask >> i & 1) for mask in pd.unique(masks)}
    return masks.map(labels)


def _message_features(messages: pd.DataFrame, id_col: str) -> pd.DataFrame:
    msgs = messages.copy()
    msgs["_sent"] = _utc(msgs["sent_at"]) if "sent_at" in msgs.columns else pd.NaT
    direction = msgs["direction"].astype("string").str.lower() if "direction" in msgs.columns else None
    grouped = msgs.groupby(id_col, sort=False)
    out = pd.DataFrame(index=grouped.size().index)
    out["message_count"] = grouped.size()
    if direction is not None:
        msgs["_in"] = (direction == "inbound").fillna(False).astype(int)
        msgs["_out"] = (direction == "outbound").fillna(False).astype(int)
        out["inbound_count"] = msgs.groupby(id_col, sort=False)["_in"].sum()
        out["outbound_count"] = msgs.groupby(id_col, sort=False)["_out"].sum()
        seen = msgs[msgs["_in"] == 1]
    else:
        out["inbound_count"] = out["message_count"]
        out["outbound_count"] = 0
        seen = msgs
    seen_grouped = seen.groupby(id_col, sort=False)["_sent"]
    out["first_seen_at"] = seen_grouped.min()
    out["last_seen_at"] = seen_grouped.max()
    if "channel" in msgs.columns:
        out["channels"] = _distinct_joined(msgs, id_col, "channel")
    if "language" in msgs.columns:
        langs = msgs[[id_col, "language"]].dropna()
        langs = langs[langs["language"].astype(str) != ""]
        out["languages"] = _distinct_joined(msgs, id_col, "language")
        counts = langs.groupby([id_col, "language"], sort=True).size().reset_index(name="n")
        # Most frequent language; ties go to the alphabetically first, for a stable answer.
        counts = counts.sort_values([id_col, "n", "language"], ascending=[True, False, True], kind="stable")
        out["primary_language"] = counts.drop_duplicates(id_col).set_index(id_col)["language"]
    return out


def _order_features(orders: pd.DataFrame, id_col: str) -> pd.DataFrame:
    counted = orders
    if "status" in orders.columns:
        status = orders["status"].astype("string").str.lower().str.strip()
        counted = orders[~status.isin(EXCLUDED_ORDER_STATUSES).fillna(False).to_numpy()]
    counted = counted.assign(
        _total=pd.to_numeric(counted["total"], errors="coerce").fillna(0.0).astype(float),
        _placed=_utc(counted["placed_at"]) if "placed_at" in counted.columns else pd.NaT,
    )
    grouped = counted.groupby(id_col, sort=False)
    out = pd.DataFrame(index=grouped.size().index)
    out["order_count"] = grouped.size()
    out["revenue"] = grouped["_total"].sum().round(2)
    out["first_order_at"] = grouped["_placed"].min()
    out["last_order_at"] = grouped["_placed"].max()
    return out


def enrich_contacts(
    contacts: pd.DataFrame,
    messages: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    now: object = None,
    *,
    id_column: str | None = None,
    rules: RfmRules = RfmRules(),
) -> pd.DataFrame:
    """One row per contact (same order and index) with the columns in the module docstring."""
    id_col = _id_column(contacts, id_column)
    stamp = _now(now)
    out = contacts.copy()

    e164 = contacts["phone_e164"] if "phone_e164" in contacts.columns else pd.Series(None, index=contacts.index)
    facts: dict[object, tuple[str | None, str | None, tuple[str, ...]]] = {}
    for value in pd.unique(e164.dropna()):
        facts[value] = phone_facts(str(value))
    empty: tuple[str | None, str | None, tuple[str, ...]] = (None, None, ())
    rows = [facts.get(v, empty) if isinstance(v, str) else empty for v in e164.tolist()]
    out["phone_region_desc"] = [r[0] for r in rows]
    out["phone_carrier"] = [r[1] for r in rows]
    out["phone_time_zones"] = [";".join(r[2]) if r[2] else None for r in rows]
    out["phone_time_zone"] = [r[2][0] if r[2] else None for r in rows]

    domain = contacts["email_domain"] if "email_domain" in contacts.columns else pd.Series(None, index=contacts.index)
    valid = (
        contacts["email_valid"].astype(bool)
        if "email_valid" in contacts.columns
        else domain.notna()
    )
    suggestion = (
        contacts["email_suggestion"] if "email_suggestion" in contacts.columns else pd.Series(None, index=contacts.index)
    )
    kinds: list[str | None] = []
    for d, ok, hint in zip(domain.tolist(), valid.tolist(), suggestion.tolist()):
        if not ok or not isinstance(d, str):
            kinds.append(None)
        elif d in FREE_EMAIL_DOMAINS:
            kinds.append("free")
        elif isinstance(hint, str) and hint.rpartition("@")[2] in FREE_EMAIL_DOMAINS:
            kinds.append("free_typo")
        else:
            kinds.append("company")
    out["email_kind"] = kinds
    out["company_domain"] = [d if k == "company" else None for d, k in zip(domain.tolist(), kinds)]

    ids = contacts[id_col]
    # Messages
    if messages is not None and len(messages):
        feats = _message_features(messages, id_col if id_col in messages.columns else "contact_id")
    else:
        feats = pd.DataFrame(columns=["message_count", "inbound_count", "outbound_count", "first_seen_at",
                                      "last_seen_at"])
    for column in ("channels", "languages", "primary_language"):
        if column not in feats.columns:
            feats[column] = None
    for column in ("message_count", "inbound_count", "outbound_count"):
        out[column] = ids.map(feats[column]).fillna(0).astype(int).to_numpy()
    for column in ("channels", "languages"):
        out[column] = ids.map(feats[column]).fillna("").astype(str)
    primary = ids.map(feats["primary_language"]).astype(object)
    out["primary_language"] = primary.where(primary.notna(), None)
    first_seen = pd.to_datetime(ids.map(feats["first_seen_at"]), utc=True)
    last_seen = pd.to_datetime(ids.map(feats["last_seen_at"]), utc=True)
    if "created_at" in contacts.columns:
        created = _utc(contacts["created_at"])
        first_seen = pd.concat([first_seen, created], axis=1).min(axis=1)
        last_seen = pd.concat([last_seen, created], axis=1).max(axis=1)
    out["first_seen_at"] = pd.to_datetime(first_seen, utc=True)
    out["last_seen_at"] = pd.to_datetime(last_seen, utc=True)

    # Orders
    if orders is not None and len(orders):
        ofeats = _order_features(orders, id_col if id_col in orders.columns else "contact_id")
    else:
        ofeats = pd.DataFrame(columns=["order_count", "revenue", "first_order_at", "last_order_at"])
    order_count = ids.map(ofeats["order_count"]).fillna(0).astype(int).to_numpy()
    revenue = ids.map(ofeats["revenue"]).fillna(0.0).astype(float).to_numpy()
    out["order_count"] = order_count
    out["revenue"] = revenue
    out["avg_order_value"] = np.where(order_count > 0, np.round(revenue / np.maximum(order_count, 1), 2), np.nan)
    out["first_order_at"] = pd.to_datetime(ids.map(ofeats["first_order_at"]), utc=True)
    out["last_order_at"] = pd.to_datetime(ids.map(ofeats["last_order_at"]), utc=True)
    recency = (stamp - out["last_order_at"]).dt.days.clip(lower=0)
    out["recency_days"] = recency.astype("Int64")
    out["frequency"] = order_count
    out["monetary"] = revenue
    buyers = order_count > 0
    r = _score(recency.fillna(10**6).to_numpy(), rules.recency_days, higher_is_better=False)
    f = _score(order_count, rules.frequency, higher_is_better=True)
    m = _score(revenue, rules.monetary, higher_is_better=True)
    for column, scores in (("r_score", r), ("f_score", f), ("m_score", m)):
        out[column] = pd.array([int(v) if b else pd.NA for v, b in zip(scores, buyers)], dtype="Int64")
    segments: dict[tuple[int, int, int], str] = {}
    labels = []
    for is_buyer, rr, ff, mm in zip(buyers.tolist(), r.tolist(), f.tolist(), m.tolist()):
        if not is_buyer:
            labels.append("prospect")
            continue
        key = (rr, ff, mm)
        if key not in segments:
            segments[key] = rfm_segment(rr, ff, mm)
        labels.append(segments[key])
    out["rfm_segment"] = labels
    return out
