"""Read the closing score as people type it: ``10``, ``nota 9``, ``dez``, ``9/10``, ``nota: 8!``."""

from __future__ import annotations

import re

from civic import hookimpl
from civic.text import fold
from civic.texts import Texts

_NUMBER_WORDS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5,
    "seis": 6, "sete": 7, "oito": 8, "nove": 9, "dez": 10,
}  # fmt: skip
_DECLINE = frozenset(
    {
        "nao", "n", "nao quero", "prefiro nao", "nao quero avaliar", "nao vou avaliar",
        "pular", "sem nota", "passo", "dispenso", "nao obrigado", "nao obrigada",
    }
)  # fmt: skip
_DECIMAL = re.compile(r"\d+[.,]\d+")
_NEGATIVE = re.compile(r"(?<![\w/])[-−]\s*\d")
_MIXED = re.compile(r"(?=.*\d)(?=.*[a-z])[a-z0-9]+")
#: Words around a score that say nothing: "nota", "dou", "minha nota é".
_FILLERS = frozenset({"nota", "dou", "minha", "e", "a", "o", "eu", "te", "sua", "vale"})
#: Words that make a number something other than a score.
_NOT_A_SCORE = frozenset({"mil", "milhao", "meio", "meia", "reais", "real", "virgula", "porcento"})


def read_score(text: str, scale_min: int, scale_max: int) -> int | str | None:
    """The score in ``text``; ``"decline"``; ``"out_of_range"``, ``"ambiguous"``,
    ``"decimal"``; or ``None`` when no score can be read with confidence.

    Digits count anywhere (``"nota: 8!"``); number words only in a short answer
    (``"dez"``, ``"nota nove"``), since in a sentence they are usually something else
    (``"foi uma ótima experiência"``).
    """
    if fold(text) in _DECLINE:
        return "decline"
    if _DECIMAL.search(text):
        return "decimal"
    if _NEGATIVE.search(text):
        return "out_of_range"
    # Drop the scale itself: "9/10", "9 de 10", "de 0 a 10", "nota de 0 a 10: 9".
    folded = fold(re.sub(rf"(\d)\s*/\s*{scale_max}\b", r"\1", text))
    folded = re.sub(rf"\b(de )?(0|1|{scale_min}) (a|ate) {scale_max}\b", " ", folded)
    folded = re.sub(rf"\b(de|em) {scale_max}$", " ", folded)
    words = [word for word in folded.split() if word not in _FILLERS]
    if _NOT_A_SCORE & set(words) or any(_MIXED.fullmatch(word) for word in words):
        return None  # "10 reais", "dez mil", "nove e meio", "1O": not a plain score
    numbers = [int(word) for word in words if word.isdigit()]
    if not numbers and len(words) <= 2:
        numbers = [_NUMBER_WORDS[word] for word in words if word in _NUMBER_WORDS]
        if len(numbers) > 1 and words[0] in ("um", "uma"):
            numbers = numbers[1:]  # "um dez": here "um" is the article
    distinct = set(numbers)
    if not distinct:
        return None
    if len(distinct) > 1:
        return "ambiguous"
    (value,) = distinct
    return value if scale_min <= value <= scale_max else "out_of_range"


@hookimpl(trylast=True)
def score_rating(text: str, scale_min: int, scale_max: int, texts: Texts) -> int | str | None:
    result = read_score(text, scale_min, scale_max)
    if result is None or isinstance(result, int) or result == "decline":
        return result
    return "refuse:" + texts(f"rating_{result}", min=scale_min, max=scale_max)
