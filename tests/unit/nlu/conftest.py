"""One trained local analyzer for the NLU unit tests (trained from the shipped corpus once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.nlu.engine import LocalAnalyzer, load_or_train


@pytest.fixture(scope="session")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> LocalAnalyzer:
    from crm.settings import get_settings

    model_dir = get_settings().nlu_model_dir
    if not (Path(model_dir) / "nlu.joblib").exists():
        model_dir = tmp_path_factory.mktemp("nlu")
    return load_or_train(Path(model_dir))
