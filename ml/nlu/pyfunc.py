"""The local NLU as an MLflow pyfunc model, so it can be registered and loaded like any other: a frame with a
`text` column in, `intent` and `sentiment` out. The API does not go through this (it loads the joblib file)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class NluPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from pathlib import Path

        from ml.nlu.model import TextModels

        self.models = TextModels.load(Path(context.artifacts["nlu"]))

    def predict(self, context: Any, model_input: Any, params: dict | None = None) -> Any:
        import pandas as pd

        intents, sentiments = self.models.predict_many(list(model_input["text"].astype(str)))
        return pd.DataFrame({"intent": intents, "sentiment": sentiments})
