"""Corrected labels are customers' own words; what NLU retraining keeps of them (the MLflow evaluation snapshot,
the model's vocabulary) holds no phone number, email or card."""

from __future__ import annotations

from types import SimpleNamespace

from ml.nlu.retrain import feedback_examples


def test_feedback_examples_are_redacted_before_training() -> None:
    corrections = [SimpleNamespace(text="llámame al +507 6123-4567 o escribe a ana.ruiz@gmail.com, pago con "
                                        "4111 1111 1111 1111", intent="support_request", sentiment="neutral")]
    (example,) = feedback_examples(corrections, None)
    assert "6123" not in example.text and "ana.ruiz" not in example.text and "4111" not in example.text
    assert "[PHONE_1]" in example.text and "[EMAIL_1]" in example.text and "llámame" in example.text
