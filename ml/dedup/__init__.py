"""Deduplication engine: any table + the roles of its columns -> scored pairs and clusters (Splink on DuckDB).

Pure library (no FastAPI / Dagster): `crm dedup` and the contacts asset both call `deduplicate`.
"""

from ml.dedup.engine import DEFAULT_THRESHOLD, DedupError, DedupResult, deduplicate
from ml.dedup.evaluate import PairwiseScores, pairs_from_clusters, pairwise_scores
from ml.dedup.roles import ROLES, Role, UnknownRoleError

__all__ = [
    "DEFAULT_THRESHOLD",
    "DedupError",
    "DedupResult",
    "PairwiseScores",
    "ROLES",
    "Role",
    "UnknownRoleError",
    "deduplicate",
    "pairs_from_clusters",
    "pairwise_scores",
]
