"""Customer purchase forecast (flow 21): purchase days, revenue and P(buys again) per customer over a window.

Pure library (no FastAPI / Dagster): `crm forecast` and the sales-prediction asset both call `forecast` on the
purchase days of `daily_purchases`. `baseline` is the BG/NBD + Gamma-Gamma anchor, `model` our correction of
it; `evaluate` scores a forecast (import it on its own: it pulls in sklearn's metrics).
"""

from ml.forecast.baseline import Baseline, BgNbd, GammaGamma
from ml.forecast.model import OUTPUT_COLUMNS, Forecast, ModelConfig, forecast
from ml.forecast.periods import (
    ForecastInputError,
    Periods,
    daily_purchases,
    prepare_transactions,
    rfm_summary,
    window_actuals,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "Baseline",
    "BgNbd",
    "Forecast",
    "ForecastInputError",
    "GammaGamma",
    "ModelConfig",
    "Periods",
    "daily_purchases",
    "forecast",
    "prepare_transactions",
    "rfm_summary",
    "window_actuals",
]
