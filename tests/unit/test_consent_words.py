"""Consent from what customers write: opt-outs in their many forms, and opt-ins only when unmistakable (a negated
sentence is never an opt-in)."""

from __future__ import annotations

import pytest

from serving.services.consent import is_opt_in
from serving.services.opt_out import is_opt_out


@pytest.mark.parametrize("text", ["BAJA", "Baja por favor", "STOP", "Stop promotions", "quiero darme de baja",
                                  "ya no me manden mensajes", "unsubscribe me", "no quiero más mensajes",
                                  "no quiero recibir ofertas", "no me escriban más", "don't text me"])
def test_opt_outs(text: str) -> None:
    assert is_opt_out(text) and not is_opt_in(text)


@pytest.mark.parametrize("text", ["START", "Alta", "suscribirme", "quiero recibir ofertas", "Sí, quiero recibir "
                                  "promociones", "send me offers"])
def test_opt_ins(text: str) -> None:
    assert is_opt_in(text) and not is_opt_out(text)


@pytest.mark.parametrize("text", ["no, quiero recibir ofertas? no", "quiero recibir novedades, pero no por whatsapp",
                                  "hola, ¿tienen alta gama?", "start of the week is fine", "el iphone 15 por favor"])
def test_neither(text: str) -> None:
    assert not is_opt_in(text) and not is_opt_out(text)
