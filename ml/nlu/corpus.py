"""The labelled corpus in ml/data/messages.csv (see its README) and its fixed train / test split."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CORPUS_PATH = Path(__file__).resolve().parent.parent / "data" / "messages.csv"


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    intent: str
    sentiment: str
    language: str
    split: str


def load_corpus(path: Path = CORPUS_PATH) -> list[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [Example(**row) for row in csv.DictReader(handle)]


def split(examples: list[Example], name: str) -> list[Example]:
    return [example for example in examples if example.split == name]
