"""Opt-out words in Spanish and English, and messages that only look like them."""

from __future__ import annotations

import pytest

from serving.services.opt_out import is_opt_out


@pytest.mark.parametrize("text", ["STOP", "baja", "Baja.", "no me escriban más", "no quiero recibir promociones",
                                  "dejen de escribirme porfa", "please stop texting me", "don't message me again",
                                  "UNSUBSCRIBE"])
def test_opt_out(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["el precio bajó?", "quiero dar de baja mi pedido y pedir otro",
                                  "stop by the store tomorrow?", "no me llegó el mensaje", "hola"])
def test_not_opt_out(text: str) -> None:
    assert not is_opt_out(text)
