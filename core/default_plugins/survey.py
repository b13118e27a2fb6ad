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
_TOKEN = re.compile(r"\d+|[a-z]+")


def read_score(text: str, scale_min: int, scale_max: int) -> int | str | None:
    """The score in ``text``; ``"decline"``; ``"out_of_range"``, ``"ambiguous"``,
    ``"decimal"``; or ``None`` when no number is there at all."""
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
    numbers = [
        (token, int(token) if token.isdigit() else _NUMBER_WORDS[token])
        for token in _TOKEN.findall(folded)
        if token.isdigit() or token in _NUMBER_WORDS
    ]
    if len(numbers) > 1:  # "dou um 10": here "um" is the article, not the number one
        numbers = [(token, value) for token, value in numbers if token not in ("um", "uma")]
    distinct = {value for _, value in numbers}
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
