"""Opt-out words: a customer who writes STOP / BAJA / "no me escriban más" is opted out of anything but direct
replies (follow-ups, nurturing, campaigns check `contacts.opted_out`)."""

from __future__ import annotations

import re

from ml.nlu.text import fold

OPT_OUT = re.compile(
    r"^\s*(stop|baja|unsubscribe|cancelar suscripcion|darme de baja|detener|stop promotions)"
    r"(\s+(por favor|please|me))?\s*[.!]*\s*$"
    r"|\b(no me (escriban|escribas|manden|envien|mandes) (mas|nada)"
    r"|no quiero (recibir )?(mas )?(mensajes|promociones|ofertas|novedades|publicidad)"
    r"|ya no me (escriban|manden|envien|mandes) (mas )?(mensajes|nada)?"
    r"|(quiero|quisiera) darme de baja|dejen de (escribirme|enviarme|mandarme)"
    r"|stop (sending|messaging|texting) me|don'?t (text|message) me|unsubscribe me)\b")


def is_opt_out(text: str) -> bool:
    return bool(OPT_OUT.search(fold(text)))


def confirmation(language: str) -> str:
    if language == "en":
        return ("Done: you won't receive promotional messages from us any more. If you write to us, we'll still "
                "answer you.")
    return ("Listo: no te enviaremos más mensajes promocionales. Si nos escribes, con gusto te seguimos "
            "respondiendo.")
