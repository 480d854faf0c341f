#!/usr/bin/env python3
"""Build ml/data/messages.csv from the hand-written per-intent source files.

Usage (from the repository root):

    python ml/data/build_corpus.py            # writes ml/data/messages.csv
    python ml/data/build_corpus.py --check    # rebuilds in memory and fails if messages.csv differs

Standard library only. The output is fully deterministic: same sources -> byte-identical CSV.

Source files: ml/data/sources/<intent>.py, each containing two literal assignments
    INTENT = "<intent>"
    DATA = [(text, sentiment_code, language_code), ...]
They are parsed with ``ast`` and ``ast.literal_eval`` (never imported or executed).
    sentiment_code: "pos" | "neu" | "neg"
    language_code:  "es" | "en" | "es*" | "en*"   (a trailing "*" marks a code-switching /
                    Spanglish message; the letters before it are its dominant language)

Split procedure (see README.md):
  1. Texts are normalised (lower-case, accents stripped, letter runs of 3+ collapsed,
     punctuation/emoji removed). Exact normalised duplicates abort the build.
  2. Near-duplicates (character 3-gram Jaccard >= NEAR_DUP_JACCARD, or word Jaccard >=
     NEAR_DUP_WORD_JACCARD on messages of 3+ words) are merged into clusters with union-find.
     A cluster always goes to a single split, so near-duplicates never straddle train/test.
  3. For each intent (fixed order), its clusters are shuffled with random.Random(SEED) and
     taken into "test" until the intent's test count reaches round(TEST_FRACTION * n_intent);
     everything else is "train".
  4. Rows are shuffled with random.Random(SEED + 1) and numbered m0001, m0002, ...
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import random
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES_DIR = HERE / "sources"
OUTPUT = HERE / "messages.csv"

SEED = 42
TEST_FRACTION = 0.20
NEAR_DUP_JACCARD = 0.50       # character 3-gram Jaccard
NEAR_DUP_WORD_JACCARD = 0.50  # word-set Jaccard (messages with >= 3 distinct words)

INTENTS = [
    "purchase_inquiry",
    "product_info",
    "pricing_question",
    "complaint",
    "support_request",
    "warranty_claim",
    "delivery_tracking",
    "refund_request",
    "partnership",
    "general_inquiry",
    "spam",
]
SENTIMENTS = {"pos": "positive", "neu": "neutral", "neg": "negative"}
LANGUAGES = {"es": ("es", False), "en": ("en", False), "es*": ("es", True), "en*": ("en", True)}
HEADER = ["id", "text", "intent", "sentiment", "language", "split"]


# --------------------------------------------------------------------------- loading

def load_source(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    if "INTENT" not in values or "DATA" not in values:
        raise ValueError(f"{path}: must define INTENT and DATA")
    return values["INTENT"], values["DATA"]


def load_all() -> list[dict]:
    records = []
    for intent in INTENTS:
        path = SOURCES_DIR / f"{intent}.py"
        declared, data = load_source(path)
        if declared != intent:
            raise ValueError(f"{path}: INTENT={declared!r} does not match file name")
        for i, entry in enumerate(data):
            if not (isinstance(entry, tuple) and len(entry) == 3):
                raise ValueError(f"{path} entry {i}: expected (text, sentiment, language)")
            text, sent, lang = entry
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path} entry {i}: empty text")
            if text != text.strip():
                raise ValueError(f"{path} entry {i}: leading/trailing whitespace: {text!r}")
            if sent not in SENTIMENTS:
                raise ValueError(f"{path} entry {i}: bad sentiment {sent!r}")
            if lang not in LANGUAGES:
                raise ValueError(f"{path} entry {i}: bad language {lang!r}")
            language, code_switch = LANGUAGES[lang]
            records.append({
                "text": text,
                "intent": intent,
                "sentiment": SENTIMENTS[sent],
                "language": language,
                "code_switch": code_switch,
                "source": f"{path.name}:{i}",
            })
    extra = sorted(p.name for p in SOURCES_DIR.glob("*.py") if p.stem not in INTENTS)
    if extra:
        raise ValueError(f"unexpected source files: {extra}")
    return records


# --------------------------------------------------------------------------- near-dup detection

_REPEAT = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^0-9a-zñ ]+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    t = unicodedata.normalize("NFKD", text.lower().replace("ñ", "\x00"))
    t = "".join(c for c in t if not unicodedata.combining(c)).replace("\x00", "ñ")
    t = _REPEAT.sub(r"\1", t)
    t = _SPACES.sub(" ", _NON_WORD.sub(" ", t)).strip()
    if not t:  # emoji/punctuation-only message: keep its (run-collapsed) symbols
        t = _REPEAT.sub(r"\1", _SPACES.sub("", text))
    return t


def char_shingles(norm: str, k: int = 3) -> frozenset:
    s = f" {norm} "
    if len(s) <= k:
        return frozenset([s])
    return frozenset(s[i:i + k] for i in range(len(s) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_duplicate_pairs(texts: list[str]) -> list[tuple[int, int, float, float]]:
    """All pairs (i, j, char_jaccard, word_jaccard) that count as near-duplicates."""
    norms = [normalise(t) for t in texts]
    shingles = [char_shingles(n) for n in norms]
    words = [frozenset(n.split()) for n in norms]
    pairs = []
    n = len(texts)
    for i in range(n):
        si, wi = shingles[i], words[i]
        for j in range(i + 1, n):
            sj = shingles[j]
            small, big = sorted((len(si), len(sj)))
            cj = jaccard(si, sj) if big and small / big >= NEAR_DUP_JACCARD else 0.0
            wj = 0.0
            if len(wi) >= 3 and len(words[j]) >= 3:
                wj = jaccard(wi, words[j])
            if cj >= NEAR_DUP_JACCARD or wj >= NEAR_DUP_WORD_JACCARD:
                pairs.append((i, j, cj, wj))
    return pairs


def clusters_from_pairs(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, *_ in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


# --------------------------------------------------------------------------- build

def build() -> tuple[str, list[dict], list]:
    records = load_all()
    texts = [r["text"] for r in records]

    seen = {}
    for idx, t in enumerate(texts):
        key = normalise(t)
        if key in seen:
            raise ValueError(
                f"duplicate text after normalisation: {records[seen[key]]['source']} and "
                f"{records[idx]['source']}: {t!r}")
        seen[key] = idx

    pairs = near_duplicate_pairs(texts)
    root = clusters_from_pairs(len(records), pairs)

    # cluster -> member indices; a cluster is owned by the intent of its first member
    members: dict[int, list[int]] = {}
    for idx, r in enumerate(root):
        members.setdefault(r, []).append(idx)

    split_rng = random.Random(SEED)
    for r in records:
        r["split"] = "train"
    for intent in INTENTS:
        n_intent = sum(1 for r in records if r["intent"] == intent)
        target = round(TEST_FRACTION * n_intent)
        owned = sorted(c for c, m in members.items() if records[m[0]]["intent"] == intent)
        split_rng.shuffle(owned)
        taken = 0
        for c in owned:
            if taken >= target:
                break
            # count only the members that belong to this intent towards its quota
            in_intent = sum(1 for m in members[c] if records[m]["intent"] == intent)
            if taken + in_intent > target + 1:
                continue  # a big cluster would overshoot the quota; keep it in train
            for m in members[c]:
                records[m]["split"] = "test"
            taken += in_intent

    order = list(range(len(records)))
    random.Random(SEED + 1).shuffle(order)
    rows = []
    for n, idx in enumerate(order, start=1):
        r = records[idx]
        rows.append({
            "id": f"m{n:04d}",
            "text": r["text"],
            "intent": r["intent"],
            "sentiment": r["sentiment"],
            "language": r["language"],
            "split": r["split"],
        })

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue(), records, pairs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if messages.csv differs from a fresh build")
    ap.add_argument("--show-near-dups", action="store_true",
                    help="print the near-duplicate pairs that were clustered together")
    args = ap.parse_args(argv)

    content, records, pairs = build()
    if args.show_near_dups:
        for i, j, cj, wj in pairs:
            print(f"char={cj:.2f} word={wj:.2f}\n  {records[i]['source']}: {records[i]['text']!r}\n"
                  f"  {records[j]['source']}: {records[j]['text']!r}")
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
        if current != content:
            print(f"{OUTPUT} is out of date; run python ml/data/build_corpus.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date ({len(records)} messages)")
        return 0
    OUTPUT.write_text(content, encoding="utf-8", newline="")
    n_test = sum(1 for r in records if r["split"] == "test")
    print(f"wrote {OUTPUT} ({len(records)} messages, {n_test} test, "
          f"{len(pairs)} near-duplicate pairs clustered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
