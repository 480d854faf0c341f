"""Deduplicate any table: a Fellegi-Sunter model (Splink on DuckDB) built from the roles of its columns.

Steps: normalise each column for its role; choose blocking rules from the roles present (each identifier alone,
every pair of other blockable columns), keeping those that stay under a comparison budget; estimate u by random
sampling and m by expectation maximisation on a few of those rules (seeded, so the same input and seed give the
same model); score the blocked pairs; add deterministic links on exact keys if asked; cluster at the threshold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ml.dedup.clusters import cluster_rows
from ml.dedup.roles import LEVELS, PERSON_NAME_LEVELS, Level, Role, parse_role, role_spec, sorted_tokens

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each stage of the run starts, and once more at the end."""

DEFAULT_THRESHOLD = 0.9
STAGES = ("normalise", "block", "estimate u", "estimate m (EM)", "score pairs", "cluster")


class DedupError(ValueError):
    """The input cannot be deduplicated as asked (missing column, bad ids, no usable field)."""


@dataclass(frozen=True)
class FieldSpec:
    column: str  # the caller's column
    role: Role
    name: str  # internal column name in the model (c0, c1, ...)


@dataclass
class DedupResult:
    """What a run produced.

    ``pairs``: scored candidate pairs ``id_l, id_r, match_probability, match_weight, source`` (``model`` or
    ``exact:<column>``), with probability at least ``min_pair_probability``. ``clusters``: every input row once,
    in input order, ``id, cluster_id, match_probability`` (best link inside its cluster; NaN for a singleton).
    """

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    threshold: float
    blocking_rules: list[str]
    training_rules: list[str]
    probability_two_random_records_match: float
    candidate_pairs_upper_bound: int  # sum over blocking rules (rules overlap)
    seconds: float
    model: dict[str, Any] = field(default_factory=dict, repr=False)

    def links(self, threshold: float | None = None) -> pd.DataFrame:
        """The pairs at or above the threshold (the result's own by default)."""
        t = self.threshold if threshold is None else threshold
        return self.pairs[self.pairs["match_probability"] >= t].reset_index(drop=True)

    def recluster(self, threshold: float) -> pd.DataFrame:
        """Clusters at another threshold, without rescoring (only pairs >= ``min_pair_probability`` are kept)."""
        ids = self.clusters["id"]
        position = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
        rep, best = cluster_rows(len(ids), position.loc[self.pairs["id_l"]].to_numpy(),
                                 position.loc[self.pairs["id_r"]].to_numpy(),
                                 self.pairs["match_probability"].to_numpy(), threshold)
        return pd.DataFrame({"id": ids.to_numpy(), "cluster_id": ids.to_numpy()[rep], "match_probability": best})


# ----------------------------------------------------------------------------------------------- helpers


def parse_fields(df: pd.DataFrame, id_column: str, fields: Mapping[str, str | Role]) -> list[FieldSpec]:
    if id_column not in df.columns:
        raise DedupError(f"id column {id_column!r} is not in the input (columns: {', '.join(map(str, df.columns))})")
    if not fields:
        raise DedupError("give at least one field with its role")
    specs = []
    for i, (column, role) in enumerate(fields.items()):
        if column not in df.columns:
            raise DedupError(f"column {column!r} is not in the input (columns: {', '.join(map(str, df.columns))})")
        specs.append(FieldSpec(column, parse_role(str(role)), f"c{i}"))
    return specs


def _check_ids(ids: pd.Series) -> None:
    if ids.isna().any():
        raise DedupError(f"{int(ids.isna().sum())} row(s) have no id")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise DedupError(f"ids must be unique; repeated: {', '.join(map(str, duplicated.unique()[:5]))}")


def _level_dict(level: Level, render: Callable[[str], str]) -> dict[str, Any]:
    if level.sql == "ELSE":
        return {"sql_condition": "ELSE", "label_for_charts": level.label, "m_probability": level.m,
                "u_probability": level.u}
    return {"sql_condition": render(level.sql), "label_for_charts": level.label, "m_probability": level.m,
            "u_probability": level.u}


# Levels whose evidence depends on how common the surname is: "María González" twice says less than "Yaritza
# Quintero" twice, and real names are very unevenly spread (Splink's term-frequency adjustment).
# Verified identifiers: pairs sharing one anchor the estimate of how often two random records match.
IDENTIFIER_ROLES = {Role.EMAIL, Role.PHONE, Role.NATIONAL_ID}
IDENTIFIER_RECALL = 0.7
TF_ADJUSTED_LEVELS = {"first and last exact", "last exact, first similar", "last exact"}


def _tf_adjusted(level_dict: dict[str, Any], level: Any, surname_column: str) -> dict[str, Any]:
    if level.label in TF_ADJUSTED_LEVELS:
        return {**level_dict, "tf_adjustment_column": surname_column, "tf_adjustment_weight": 1.0}
    return level_dict


def _comparisons(specs: list[FieldSpec]) -> list[dict[str, Any]]:
    """Splink comparison dicts. One first_name + one last_name column are compared jointly (sees swaps)."""
    firsts = [s for s in specs if s.role is Role.FIRST_NAME]
    lasts = [s for s in specs if s.role is Role.LAST_NAME]
    joint = len(firsts) == 1 and len(lasts) == 1
    comparisons: list[dict[str, Any]] = []
    if joint:
        f, last = firsts[0].name, lasts[0].name

        def render_person(sql: str) -> str:
            return sql.format(fl=f"{f}_l", fr=f"{f}_r", ll=f"{last}_l", lr=f"{last}_r")

        comparisons.append({
            "output_column_name": f"{f}_{last}_person_name",
            "comparison_description": f"first name {firsts[0].column!r} and last name {lasts[0].column!r}",
            "comparison_levels": [
                {"sql_condition": f"({f}_l IS NULL OR {f}_r IS NULL) AND ({last}_l IS NULL OR {last}_r IS NULL)",
                 "label_for_charts": "null", "is_null_level": True},
                *[_tf_adjusted(_level_dict(level, render_person), level, last)
                  for level in PERSON_NAME_LEVELS],
            ],
        })
    for spec in specs:
        if joint and spec.role in (Role.FIRST_NAME, Role.LAST_NAME):
            continue
        name = spec.name

        def render(sql: str, name: str = name) -> str:
            sql = sql.replace("{l}__tokens", f"{name}__tokens_l").replace("{r}__tokens", f"{name}__tokens_r")
            return sql.replace("{l}", f"{name}_l").replace("{r}", f"{name}_r")

        comparisons.append({
            "output_column_name": name,
            "comparison_description": f"{spec.column!r} as {spec.role.value}",
            "comparison_levels": [
                {"sql_condition": f"{name}_l IS NULL OR {name}_r IS NULL", "label_for_charts": "null",
                 "is_null_level": True},
                *[_level_dict(level, render) for level in LEVELS[spec.role]],
            ],
        })
    return comparisons


def _comparison_columns(specs: list[FieldSpec]) -> list[set[str]]:
    """The internal columns each comparison reads, in the order of ``_comparisons``."""
    firsts = [s for s in specs if s.role is Role.FIRST_NAME]
    lasts = [s for s in specs if s.role is Role.LAST_NAME]
    joint = len(firsts) == 1 and len(lasts) == 1
    out: list[set[str]] = [{firsts[0].name, lasts[0].name}] if joint else []
    for spec in specs:
        if joint and spec.role in (Role.FIRST_NAME, Role.LAST_NAME):
            continue
        out.append({spec.name})
    return out


def _pair_count(frame: pd.DataFrame, columns: Sequence[str]) -> int:
    sizes = frame[list(columns)].dropna().groupby(list(columns), sort=False).size().to_numpy(dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


@dataclass(frozen=True)
class _Rule:
    columns: tuple[str, ...]
    pairs: int

    @property
    def sql(self) -> str:
        return " AND ".join(f"l.{c} = r.{c}" for c in self.columns)


def _choose_blocking(frame: pd.DataFrame, specs: list[FieldSpec], budget: int) -> list[_Rule]:
    """Identifiers alone, then every pair of blockable columns (and full names alone), within the budget."""
    blockable = [s for s in specs if role_spec(s.role).blockable]
    candidates: list[tuple[str, ...]] = []
    for s in blockable:
        if role_spec(s.role).identifier or s.role in (Role.FULL_NAME, Role.DATE):
            candidates.append((s.name,))
    candidates += [(a.name, b.name) for a, b in combinations(blockable, 2)]
    if not candidates:  # a single blockable column that identifies nothing alone: block on it anyway
        candidates = [(s.name,) for s in blockable]
    rules = [_Rule(cols, _pair_count(frame, cols)) for cols in candidates]
    kept = [r for r in rules if 0 < r.pairs <= budget]
    if not kept and rules:  # nothing fits: take the tightest rule that produces pairs
        producing = sorted((r for r in rules if r.pairs > 0), key=lambda r: r.pairs)
        kept = producing[:1]
    return kept


def _choose_training(rules: list[_Rule], comparison_columns: list[set[str]], min_pairs: int) -> list[_Rule]:
    """Greedy: rules that, together, leave every comparison out of at least one EM session."""
    uncovered = set(range(len(comparison_columns)))
    chosen: list[_Rule] = []
    usable = [r for r in rules if r.pairs >= min_pairs]
    while uncovered and usable:
        def gain(rule: _Rule) -> int:
            return sum(1 for i in uncovered if not (comparison_columns[i] & set(rule.columns)))

        best = max(usable, key=lambda r: (gain(r), -len(r.columns), r.pairs))
        if gain(best) == 0:
            break
        chosen.append(best)
        uncovered -= {i for i in uncovered if not (comparison_columns[i] & set(best.columns))}
        usable.remove(best)
    return chosen


@contextmanager
def quiet_splink() -> Iterator[None]:
    logger = logging.getLogger("splink")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def normalised_frame(df: pd.DataFrame, specs: list[FieldSpec], phone_region: str | None,
                     first_unique_id: int = 0) -> pd.DataFrame:
    """The model's input: ``unique_id`` (row numbers from ``first_unique_id``) and each field normalised for its
    role under its internal name."""
    frame = pd.DataFrame({"unique_id": np.arange(first_unique_id, first_unique_id + len(df), dtype=np.int64)})
    for spec in specs:
        normalise = role_spec(spec.role, phone_region=phone_region).normalise
        values = df[spec.column].reset_index(drop=True)
        cache: dict[object, str | None] = {}
        normalised = [cache.setdefault(v, normalise(v)) if _hashable(v) else normalise(v) for v in values]
        frame[spec.name] = pd.Series(normalised, dtype=object)
        if spec.role is Role.FULL_NAME:
            frame[f"{spec.name}__tokens"] = frame[spec.name].map(sorted_tokens)
    return frame


def exact_pairs(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    groups = frame[["unique_id", column]].dropna().groupby(column, sort=False)["unique_id"]
    lefts, rights = [], []
    for _, members in groups:
        if len(members) > 1:
            for a, b in combinations(sorted(members.tolist()), 2):
                lefts.append(a)
                rights.append(b)
    return pd.DataFrame({"unique_id_l": lefts, "unique_id_r": rights}, dtype=np.int64)


# -------------------------------------------------------------------------------------------- the engine


def deduplicate(
    df: pd.DataFrame,
    id_column: str,
    fields: Mapping[str, str | Role],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    progress: ProgressCallback | None = None,
    seed: int = 42,
    phone_region: str | None = None,
    exact_keys: Sequence[str] = (),
    comparison_budget: int | None = None,
    u_max_pairs: float = 2e6,
    min_pair_probability: float = 0.01,
    threads: int | None = None,
    min_rows_to_train: int = 200,
) -> DedupResult:
    """Find the rows of ``df`` that describe the same entity.

    ``fields`` maps column -> role (see ``ml.dedup.roles.ROLES``). ``exact_keys`` are columns among ``fields``
    whose equal (normalised, non-empty) values are trusted as the same entity (verified E.164 phone, verified
    email): those pairs get probability 1. ``comparison_budget`` caps the pairs one blocking rule may generate
    (default ``max(50_000, 30 * rows)``). Below ``min_rows_to_train`` rows the model is not trained: random pairs
    of a small table are too often its own duplicates for u, and its blocks too small for EM, so the role priors
    (``ml.dedup.roles``) are used as they are. Deterministic given the input and ``seed``.
    """
    started = time.perf_counter()
    total = len(STAGES)

    def step(i: int) -> None:
        if progress is not None:
            progress(STAGES[i] if i < total else "done", i, total)

    if not 0.0 < threshold <= 1.0:
        raise DedupError(f"threshold must be in (0, 1], got {threshold}")
    specs = parse_fields(df, id_column, fields)
    for key in exact_keys:
        if key not in fields:
            raise DedupError(f"exact key {key!r} must also be given as a field")
    ids = df[id_column].reset_index(drop=True)
    _check_ids(ids)
    n = len(df)

    step(0)
    frame = normalised_frame(df, specs, phone_region)
    if all(frame[s.name].isna().all() for s in specs) and n:
        raise DedupError("every field is empty after normalisation: nothing to compare")

    step(1)
    budget = comparison_budget or max(50_000, 30 * n)
    rules = _choose_blocking(frame, specs, budget)
    comparisons = _comparisons(specs)
    comparison_columns = _comparison_columns(specs)
    training = (_choose_training(rules, comparison_columns, min_pairs=max(10, n // 100))
                if n >= min_rows_to_train else [])
    prior_lambda = min(0.01, 0.2 / max(n, 1))  # about one row in ten has a duplicate

    pairs = pd.DataFrame({"unique_id_l": pd.Series(dtype=np.int64), "unique_id_r": pd.Series(dtype=np.int64),
                          "match_probability": pd.Series(dtype=float), "match_weight": pd.Series(dtype=float)})
    model: dict[str, Any] = {}
    lam = prior_lambda
    if rules and n >= 2:
        import duckdb
        from splink import DuckDBAPI, Linker

        connection = duckdb.connect()
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        try:
            with quiet_splink():
                db_api = DuckDBAPI(connection)
                table = db_api.register(frame, table_name="dedup_input")
                settings = {
                    "link_type": "dedupe_only",
                    "unique_id_column_name": "unique_id",
                    "comparisons": comparisons,
                    "blocking_rules_to_generate_predictions": [r.sql for r in rules],
                    "probability_two_random_records_match": prior_lambda,
                    "retain_matching_columns": False,
                    "retain_intermediate_calculation_columns": False,
                    "max_iterations": 25,
                    "em_convergence": 0.0001,
                }
                linker = Linker(table, settings, log_level=None)
                step(2)
                identifiers = [f"l.{s.name} = r.{s.name}" for s in specs if s.role in IDENTIFIER_ROLES]
                lambda_from_identifiers = n >= min_rows_to_train and bool(identifiers)
                if lambda_from_identifiers:
                    # How often two random records match, from the pairs sharing a verified identifier (assumed
                    # to find IDENTIFIER_RECALL of the duplicates): EM's own estimate runs far too high when
                    # common names make many non-matches look alike, and that prior decides borderline pairs.
                    linker.training.estimate_probability_two_random_records_match(identifiers,
                                                                                  recall=IDENTIFIER_RECALL)
                if n >= min_rows_to_train:
                    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
                step(3)
                for k, rule in enumerate(training):
                    try:
                        linker.training.estimate_parameters_using_expectation_maximisation(
                            rule.sql,
                            populate_probability_two_random_records_match_from_trained_values=(
                                k == len(training) - 1 and not lambda_from_identifiers),
                        )
                    except Exception as exc:  # EM can fail on tiny or degenerate blocks: keep the priors
                        model.setdefault("em_errors", []).append(f"{rule.sql}: {exc}")
                lam = float(linker._settings_obj._probability_two_random_records_match)
                if not np.isfinite(lam) or lam <= 0 or lam >= 1:
                    lam = prior_lambda
                    linker._settings_obj._probability_two_random_records_match = lam
                step(4)
                predictions = linker.inference.predict(threshold_match_probability=min_pair_probability)
                scored = predictions.as_pandas_dataframe()
                model["settings"] = linker.misc.save_model_to_json()
                predictions.drop_table_from_database_and_remove_from_cache()
            pairs = scored[["unique_id_l", "unique_id_r", "match_probability", "match_weight"]].copy()
        finally:
            connection.close()
    else:
        step(2)
        step(3)
        step(4)

    pairs["source"] = "model"
    for key in exact_keys:
        spec = next(s for s in specs if s.column == key)
        exact = exact_pairs(frame, spec.name)
        if len(exact):
            exact["match_probability"] = 1.0
            exact["match_weight"] = np.inf
            exact["source"] = f"exact:{key}"
            pairs = pd.concat([exact, pairs], ignore_index=True)
    pairs = pairs.astype({"unique_id_l": np.int64, "unique_id_r": np.int64})
    # DuckDB sums in parallel, so trained parameters can differ in the last bits from run to run: rounding makes
    # the output (and the clusters) identical for the same input and seed
    pairs["match_probability"] = pairs["match_probability"].astype(float).round(10)
    pairs["match_weight"] = pairs["match_weight"].astype(float).round(8)
    # one row per pair (the best), lower row number on the left, in a stable order
    lo = np.minimum(pairs["unique_id_l"], pairs["unique_id_r"])
    hi = np.maximum(pairs["unique_id_l"], pairs["unique_id_r"])
    pairs = pairs.assign(unique_id_l=lo, unique_id_r=hi)
    pairs = (pairs.sort_values(["unique_id_l", "unique_id_r", "match_probability"], ascending=[True, True, False],
                               kind="mergesort")
             .drop_duplicates(["unique_id_l", "unique_id_r"]).reset_index(drop=True))

    step(5)
    representative, best = cluster_rows(n, pairs["unique_id_l"].to_numpy(), pairs["unique_id_r"].to_numpy(),
                                        pairs["match_probability"].to_numpy(), threshold)
    id_values = ids.to_numpy()
    clusters = pd.DataFrame({"id": id_values, "cluster_id": id_values[representative] if n else id_values,
                             "match_probability": best})
    out_pairs = pd.DataFrame({
        "id_l": id_values[pairs["unique_id_l"].to_numpy()] if len(pairs) else pd.Series(dtype=object),
        "id_r": id_values[pairs["unique_id_r"].to_numpy()] if len(pairs) else pd.Series(dtype=object),
        "match_probability": pairs["match_probability"].to_numpy(),
        "match_weight": pairs["match_weight"].to_numpy(),
        "source": pairs["source"].to_numpy(),
    })
    step(total)
    return DedupResult(
        pairs=out_pairs,
        clusters=clusters,
        threshold=threshold,
        blocking_rules=[r.sql for r in rules],
        training_rules=[r.sql for r in training],
        probability_two_random_records_match=lam,
        candidate_pairs_upper_bound=sum(r.pairs for r in rules),
        seconds=time.perf_counter() - started,
        model=model | {"fields": {s.column: (s.name, s.role.value) for s in specs}},
    )


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
