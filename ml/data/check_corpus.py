#!/usr/bin/env python3
"""Sanity checks and counts for ml/data/messages.csv (standard library only).

    python ml/data/check_corpus.py

Exits with status 1 if any check fails. Checks:
  * header, id format/uniqueness, valid labels, non-empty texts
  * no exact or normalised duplicate texts
  * no near-duplicate pair (same definition as build_corpus.py) straddles train/test
  * minimum sizes (>= 1700 rows, >= 130 per intent, >= 300 per sentiment)
  * test share per intent close to 20 %
  * messages.csv is byte-identical to a fresh build from sources/
Prints counts per intent / sentiment / language / split and an intent x sentiment table.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep ml/data free of __pycache__
sys.path.insert(0, str(HERE))
import build_corpus as bc  # noqa: E402

MIN_TOTAL, MIN_PER_INTENT, MIN_PER_SENTIMENT = 1700, 130, 300


def main() -> int:
    errors: list[str] = []
    with open(bc.OUTPUT, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)

    if header != bc.HEADER:
        errors.append(f"bad header {header}")
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        errors.append("duplicate ids")
    if any(not re.fullmatch(r"m\d{4,}", i) for i in ids):
        errors.append("malformed ids")
    valid = {
        "intent": set(bc.INTENTS),
        "sentiment": set(bc.SENTIMENTS.values()),
        "language": {"es", "en"},
        "split": {"train", "test"},
    }
    for r in rows:
        for col, allowed in valid.items():
            if r[col] not in allowed:
                errors.append(f"{r['id']}: invalid {col} {r[col]!r}")
        if not r["text"].strip():
            errors.append(f"{r['id']}: empty text")

    texts = [r["text"] for r in rows]
    if len(set(texts)) != len(texts):
        errors.append("exact duplicate texts")
    norm = Counter(bc.normalise(t) for t in texts)
    dups = [k for k, v in norm.items() if v > 1]
    if dups:
        errors.append(f"normalised duplicates: {dups[:5]}")

    pairs = bc.near_duplicate_pairs(texts)
    crossing = [(i, j) for i, j, *_ in pairs if rows[i]["split"] != rows[j]["split"]]
    for i, j in crossing:
        errors.append(f"near-duplicates across splits: {rows[i]['id']} / {rows[j]['id']}")

    # ------------------------------------------------------------------ counts
    n = len(rows)
    by_intent = Counter(r["intent"] for r in rows)
    by_sent = Counter(r["sentiment"] for r in rows)
    by_lang = Counter(r["language"] for r in rows)
    by_split = Counter(r["split"] for r in rows)
    test_by_intent = Counter(r["intent"] for r in rows if r["split"] == "test")
    cell = Counter((r["intent"], r["sentiment"]) for r in rows)
    lang_by_intent = Counter((r["intent"], r["language"]) for r in rows)
    records = bc.load_all()
    code_switch = sum(1 for r in records if r["code_switch"])

    print(f"total messages: {n}")
    print(f"near-duplicate pairs (kept in the same split): {len(pairs)}")
    print()
    w = max(len(i) for i in bc.INTENTS)
    print(f"{'intent':<{w}} {'total':>6} {'train':>6} {'test':>5} {'test%':>6} {'pos':>5} {'neu':>5} {'neg':>5} {'es':>5} {'en':>5}")
    for intent in bc.INTENTS:
        tot, te = by_intent[intent], test_by_intent[intent]
        print(f"{intent:<{w}} {tot:>6} {tot - te:>6} {te:>5} {100 * te / max(tot, 1):>5.1f}% "
              f"{cell[(intent, 'positive')]:>5} {cell[(intent, 'neutral')]:>5} {cell[(intent, 'negative')]:>5} "
              f"{lang_by_intent[(intent, 'es')]:>5} {lang_by_intent[(intent, 'en')]:>5}")
    print(f"{'TOTAL':<{w}} {n:>6} {by_split['train']:>6} {by_split['test']:>5} {100 * by_split['test'] / n:>5.1f}% "
          f"{by_sent['positive']:>5} {by_sent['neutral']:>5} {by_sent['negative']:>5} {by_lang['es']:>5} {by_lang['en']:>5}")
    print()
    print("sentiment:", {k: by_sent[k] for k in ("positive", "neutral", "negative")})
    print("language: ", {k: f"{by_lang[k]} ({100 * by_lang[k] / n:.1f}%)" for k in ("es", "en")})
    print(f"code-switching (Spanglish) messages: {code_switch} ({100 * code_switch / n:.1f}%)")
    print("split:    ", dict(by_split))

    # ------------------------------------------------------------------ thresholds
    if n < MIN_TOTAL:
        errors.append(f"only {n} messages (< {MIN_TOTAL})")
    for intent in bc.INTENTS:
        if by_intent[intent] < MIN_PER_INTENT:
            errors.append(f"{intent}: only {by_intent[intent]} messages")
        share = test_by_intent[intent] / max(by_intent[intent], 1)
        if not 0.17 <= share <= 0.23:
            errors.append(f"{intent}: test share {share:.2f} outside 0.17-0.23")
    for s in bc.SENTIMENTS.values():
        if by_sent[s] < MIN_PER_SENTIMENT:
            errors.append(f"sentiment {s}: only {by_sent[s]} messages")

    fresh, _, _ = bc.build()
    if bc.OUTPUT.read_text(encoding="utf-8") != fresh:
        errors.append("messages.csv differs from a fresh build of sources/")

    print()
    if errors:
        print(f"FAILED ({len(errors)} problems):")
        for e in errors:
            print("  -", e)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
