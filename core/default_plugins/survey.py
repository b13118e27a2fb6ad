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
_TOKEN = re.compile(r"\d+|[a-z]+")


def read_score(text: str, scale_min: int, scale_max: int) -> int | str | None:
    """The score in ``text``; ``"decline"``; ``"out_of_range"``, ``"ambiguous"``,
    ``"decimal"``; or ``None`` when no number is there at all."""
    folded = fold(text)
    if folded in _DECLINE:
        return "decline"
    if _DECIMAL.search(text):
        return "decimal"
    # Drop the scale itself: "9/10", "9 de 10", "de 0 a 10", "nota de 0 a 10: 9".
    for low in {0, 1, scale_min}:
        folded = re.sub(rf"\b(de )?{low} (a|ate) {scale_max}\b", " ", folded)
    folded = re.sub(rf"\b(de|em) {scale_max}$", " ", folded)
    folded = re.sub(rf"(\d)\s*/\s*{scale_max}\b", r"\1", text_slashes(text, folded))
    tokens = _TOKEN.findall(folded)
    values = [
        int(token) if token.isdigit() else _NUMBER_WORDS[token]
        for token in tokens
        if token.isdigit() or token in _NUMBER_WORDS
    ]
    if len(values) > 1 and any(token in ("um", "uma") for token in tokens):
        # "dou um 10": here "um" is the article, not the number one.
        values = [
            value
            for token, value in zip(
                [t for t in tokens if t.isdigit() or t in _NUMBER_WORDS], values, strict=True
            )
            if token not in ("um", "uma")
        ]
    distinct = set(values)
    if not distinct:
        return None
    if len(distinct) > 1:
        return "ambiguous"
    (value,) = distinct
    return value if scale_min <= value <= scale_max else "out_of_range"


def text_slashes(original: str, folded: str) -> str:
    """``fold`` turns ``9/10`` into ``9 10``; put the slash back where the citizen typed one."""
    for numerator, denominator in re.findall(r"(\d+)\s*/\s*(\d+)", original):
        folded = folded.replace(f"{numerator} {denominator}", f"{numerator}/{denominator}", 1)
    return folded


@hookimpl(trylast=True)
def score_rating(text: str, scale_min: int, scale_max: int, texts: Texts) -> int | str | None:
    result = read_score(text, scale_min, scale_max)
    if result is None or isinstance(result, int) or result == "decline":
        return result
    return "refuse:" + texts(f"rating_{result}", min=scale_min, max=scale_max)
