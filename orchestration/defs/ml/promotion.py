"""The promotion rule every model shares: a new @challenger becomes @champion only when it beats the champion on
the same held-out data (strictly); the first model is promoted when there is none. Each version is judged once."""

from collections.abc import Callable
from typing import Any

import dagster as dg

from ml.registry import promote_challenger

VERDICT_TAG = "promotion_check"  # set on a version once it has been judged


def judge(name: str, compare: Callable[[], dict[str, Any]], log: Any) -> dg.AssetCheckResult:
    """`compare()` gives challenger_version, champion_version and gap (challenger minus champion, None without
    one), or raises LookupError when there is no challenger."""
    from mlflow import MlflowClient

    from ml.registry import CHALLENGER

    try:
        comparison = compare()
    except LookupError:
        return dg.AssetCheckResult(passed=True, metadata={"note": f"no @{CHALLENGER} to judge"})

    client, version = MlflowClient(), str(comparison["challenger_version"])
    verdict = client.get_model_version(name, version).tags.get(VERDICT_TAG)
    if verdict is not None:  # nothing new was trained since (no new data this time)
        return dg.AssetCheckResult(passed=True, metadata={"note": f"version {version} was already judged: {verdict}"})
    gap = comparison["gap"]
    passed = gap is None or gap > 0  # strictly better; the first model has nobody to beat
    if passed and comparison["champion_version"] != comparison["challenger_version"]:
        champion = promote_challenger(name)
        log.info(f"{name} version {champion.version if champion else '?'} is now @champion")
    client.set_model_version_tag(name, version, VERDICT_TAG, "promoted" if passed else "rejected")
    metadata = {k: v for k, v in comparison.items() if v is not None}
    return dg.AssetCheckResult(passed=passed, metadata={**metadata, "promoted": passed},
                               severity=dg.AssetCheckSeverity.ERROR)
