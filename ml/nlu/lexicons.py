"""Word lists the rule-based parts of the NLU use (Spanish, Panamanian slang and English).

Each list is a set of regular-expression fragments matched on lowercased, accent-stripped text, so "urgente",
"URGENTE" and "urgénte" all count. Kept in one place so they can be extended without touching the logic.
"""

from __future__ import annotations

EMOTIONS: dict[str, tuple[str, ...]] = {
    "anger": (
        r"molest[oa]s?", r"furios[oa]", r"rabia", r"enojad[oa]", r"arrech[oa]", r"indignad[oa]", r"harto", r"harta",
        r"que falta de respeto", r"estafa(dores)?", r"ladrones", r"basura", r"pesimo", r"horrible", r"mierda",
        r"angry", r"furious", r"pissed", r"outrage(ous)?", r"ridiculous", r"scam(mers)?", r"unacceptable",
        r"wtf", r"disgusting", r"worst", r"hate", r"😡", r"😠", r"🤬",
    ),
    "frustration": (
        r"otra vez", r"de nuevo", r"ya van \w+", r"nadie (me )?(responde|contesta)", r"sigo esperando",
        r"todavia no", r"aun no", r"no sirve", r"no funciona", r"no me (responden|contestan)", r"cansad[oa]",
        r"tercera vez", r"segunda vez", r"ya les escribi", r"hasta cuando", r"again", r"still (waiting|no)",
        r"no one (answers|replies|responds)", r"nobody", r"(third|second) time", r"doesn'?t work",
        r"not working", r"fed up", r"sick of", r"tired of", r"frustrat\w*", r"waiting for (days|weeks)",
    ),
    "disappointment": (
        r"decepcion\w*", r"decepcionad[oa]", r"esperaba (mas|otra cosa)", r"que pena", r"lastima", r"triste",
        r"no es lo que", r"mala calidad", r"defectuos[oa]", r"se dano", r"se rompio", r"llego (roto|rota|danad)",
        r"disappoint\w*", r"expected (more|better)", r"sad", r"poor quality", r"broke", r"broken", r"defective",
        r"not what i", r"let down",
    ),
    "joy": (
        r"me encant\w+", r"encantad[oa]", r"feliz", r"que bien", r"genial", r"excelente", r"increible",
        r"chevere", r"pritty", r"buenisim[oa]", r"lo maximo", r"wow", r"yay", r"love (it|this|them)", r"amazing",
        r"awesome", r"excited", r"happy", r"great", r"perfect[oa]?", r"😍", r"🥰", r"😊", r"😀", r"😁", r"🎉", r"❤",
    ),
    "satisfaction": (
        r"gracias", r"muchas gracias", r"mil gracias", r"agradecid[oa]", r"satisfech[oa]", r"todo bien",
        r"muy buen (servicio|producto|trato)", r"recomendad[oa]", r"los recomiendo", r"llego (bien|perfecto)",
        r"thanks?", r"thank you", r"appreciate", r"satisfied", r"works great", r"recommend", r"good service",
        r"👍", r"🙏", r"👌",
    ),
}

URGENCY: dict[str, tuple[str, ...]] = {
    "critical": (r"urgent[ei]sim[oa]", r"emergencia", r"ya mismo", r"ahora mismo", r"inmediatamente",
                 r"lo antes posible ya", r"asap!+", r"emergency", r"right now", r"immediately"),
    "high": (r"urgente", r"urge", r"hoy mismo", r"para hoy", r"hoy", r"cuanto antes", r"lo antes posible", r"rapido",
             r"manana", r"asap", r"urgent", r"today", r"tonight", r"tomorrow", r"as soon as possible", r"\bnow\b",
             r"right away", r"ya ya", r"lo necesito ya"),
    "medium": (r"esta semana", r"este fin de semana", r"pronto", r"el (lunes|martes|miercoles|jueves|viernes|"
               r"sabado|domingo)", r"this week", r"this weekend", r"soon", r"by (monday|tuesday|wednesday|"
               r"thursday|friday|saturday|sunday)", r"next week", r"la proxima semana"),
}

CHURN: tuple[str, ...] = (
    r"cancel\w*", r"nunca mas", r"no vuelvo a comprar", r"no les vuelvo", r"me voy (a|con) (otra|la competencia)",
    r"otra tienda", r"la competencia", r"devuelv\w+ (mi|el) (dinero|plata)", r"reembols\w*", r"quiero mi (dinero|plata)",
    r"demanda", r"defensa del consumidor", r"acodeco", r"denunci\w+", r"mala resena", r"los voy a (quemar|exponer)",
    r"never again", r"never (buy|order)", r"refund", r"money back", r"chargeback", r"dispute", r"switch(ing)? to",
    r"another store", r"competitor", r"bad review", r"report you", r"lawyer", r"sue",
)

DECISION_POWER: tuple[str, ...] = (
    r"soy (el |la )?(duen[oa]|gerente|propietari[oa]|encargad[oa] de compras|administrador[a]?)",
    r"mi (empresa|negocio|compania|tienda|restaurante|oficina)", r"nuestra (empresa|compania|tienda|oficina)",
    r"para (mi|el|nuestro) (negocio|empresa|local|equipo)", r"al por mayor", r"mayoreo", r"distribuidor",
    r"\bcompras\b", r"i'?m the (owner|manager|buyer)", r"my (company|business|store|shop|office|team)",
    r"our (company|business|store|office|team)", r"procurement", r"purchasing", r"wholesale", r"for my (clients|staff)",
    r"yo decido", r"i decide", r"approved",
)

BUDGET: tuple[str, ...] = (
    r"presupuesto", r"tengo (el )?(dinero|plata|efectivo)", r"pago (de )?contado", r"al contado", r"en efectivo",
    r"pago (con|por) (yappy|tarjeta|ach|transferencia|nequi|zelle|paypal)", r"yappy", r"\bach\b", r"transferencia",
    r"tarjeta", r"hasta \$?\d+", r"puedo pagar", r"ya tengo (el|la) (plata|dinero)", r"financiamiento", r"cuotas",
    r"budget", r"cash", r"credit card", r"card", r"paypal", r"zelle", r"can pay", r"ready to pay", r"payment link",
    r"link de pago", r"approved budget", r"up to \$?\d+", r"como (pago|te pago|les pago|hago el pago)",
    r"donde (pago|deposito)", r"how (do|can) i pay", r"payment", r"te (pago|transfiero|deposito)",
)

PURCHASE_WORDS: tuple[str, ...] = (
    r"lo quiero", r"la quiero", r"los quiero", r"quiero (comprar|pedir|ordenar|reservar|llevar)", r"me lo llevo",
    r"como (hago|hacemos) (el|la) (pedido|compra|orden)", r"apartar", r"reservar", r"comprar", r"pedido",
    r"i want (to buy|to order|it|one|two|\d+)", r"i'?ll take", r"buy", r"order", r"purchase", r"checkout",
)

SPANISH_POSITIVE: tuple[str, ...] = EMOTIONS["joy"] + EMOTIONS["satisfaction"] + (
    r"bueno", r"buena", r"bien", r"lindo", r"linda", r"bonit[oa]", r"rapido", r"amable", r"feliz", r"chulo",
)
SPANISH_NEGATIVE: tuple[str, ...] = EMOTIONS["anger"] + EMOTIONS["frustration"] + EMOTIONS["disappointment"] + (
    r"malo", r"mala", r"mal", r"tarde", r"nunca", r"queja", r"reclamo", r"problema", r"peor", r"demora",
    r"no llega", r"no ha llegado", r"😡", r"😠", r"🤬", r"😤", r"😞", r"😢", r"😭", r"👎",
)
