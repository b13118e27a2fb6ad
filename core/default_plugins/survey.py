"""Read the closing score as people type it: ``10``, ``nota 9``, ``dez``, ``9/10``,
``nota: 8!``, ``nota máxima``, ``💯``; and tell apart what is not a score on the city's
scale (``5 estrelas`` on 0–10, ``👍``, ``4,5``).

Every word it knows is in the catalogue (``words.score_*`` and the number words
``words.number_0`` ... ``words.number_10``), so a city can extend or replace them in
``civic.toml`` ``[texts]``. A list entry made only of emoji (``"💯"``) is matched
against the message's emoji; any other entry is compared folded (see
:func:`civic.text.fold`).
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from functools import cache

import attrs

from civic import hookimpl
from civic.text import PARSE_LIMIT, fold, normalise
from civic.texts import Texts

_DECIMAL = re.compile(r"\d+[.,]\d+")
_NEGATIVE = re.compile(r"(?<![\w/])[-−]\s*\d")
_MIXED = re.compile(r"(?=.*\d)(?=.*[a-z])[a-z0-9]+")
_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")
#: The scale stars are counted on: ``⭐⭐⭐⭐`` is 4 only when the city's scale is 1–5.
STAR_SCALE = (1, 5)


def symbols(text: str) -> str:
    """The emoji and other pictographs of ``text`` (Unicode category So), in order,
    without skin tones or variation selectors: what :func:`~civic.text.fold` drops."""
    return "".join(ch for ch in text if unicodedata.category(ch) == "So")


@attrs.frozen
class WordList:
    """A catalogue word list split as it is matched: folded ``phrases``, and ``signs``
    (entries made only of emoji, each one character or sequence of them)."""

    phrases: frozenset[str]
    signs: frozenset[str]

    @classmethod
    def of(cls, texts: Texts, name: str) -> WordList:
        """The list ``words.<name>`` of ``texts`` (empty when the catalogue lacks it)."""
        entries = texts.catalog.get(f"words.{name}", ())
        signs = {symbols(str(entry)) for entry in entries if not fold(str(entry))}
        return cls(texts.words(name) if entries else frozenset(), frozenset(signs - {""}))

    def matches(self, phrase: str, signs: str) -> bool:
        """Whether the folded ``phrase`` is one of the phrases, or ``signs`` (the
        message's emoji) holds one of the emoji entries."""
        return phrase in self.phrases or any(sign in signs for sign in self.signs)


@attrs.frozen
class ScoreWords:
    """The catalogue's words :func:`read_score` knows (see ``words.score_*``)."""

    numbers: dict[str, int]
    decline: WordList
    fillers: frozenset[str]
    not_a_score: frozenset[str]
    maximum: WordList
    stars: WordList
    approval: WordList

    @classmethod
    def of(cls, texts: Texts) -> ScoreWords:
        return cls(
            numbers=texts.numbers(),
            decline=WordList.of(texts, "score_decline"),
            fillers=texts.words("score_fillers"),
            not_a_score=texts.words("score_not_a_score"),
            maximum=WordList.of(texts, "score_max"),
            stars=WordList.of(texts, "score_stars"),
            approval=WordList.of(texts, "score_approval"),
        )


#: Each catalogue's words, read once (a :class:`Texts` does not change once built).
_KNOWN: weakref.WeakKeyDictionary[Texts, ScoreWords] = weakref.WeakKeyDictionary()


@cache
def default_words() -> ScoreWords:
    """The words of the default catalogue (for callers that give no ``texts``)."""
    return ScoreWords.of(Texts())


def score_words(texts: Texts | None) -> ScoreWords:
    """The :class:`ScoreWords` of ``texts`` (of the default catalogue for ``None``)."""
    if texts is None:
        return default_words()
    found = _KNOWN.get(texts)
    if found is None:
        found = _KNOWN[texts] = ScoreWords.of(texts)
    return found


def read_score(
    text: str, scale_min: int, scale_max: int, texts: Texts | None = None
) -> int | str | None:
    """The score in ``text``; ``"decline"``; or why it is not one: ``"out_of_range"``,
    ``"ambiguous"``, ``"decimal"``, ``"other_scale"`` (``5 estrelas`` or ``5/5`` on a
    0–10 scale), ``"approval"`` (``👍``, ``ótimo``: praise, but no number); or ``None``
    when nothing can be read with confidence. Never raises; an ``int`` is always within
    the scale.

    Digits count anywhere (``"nota: 8!"``); number words and ``words.score_max``
    (``nota máxima``, ``nota mil``, ``💯``: the scale's maximum) only in a short answer
    (``"dez"``, ``"nota nove"``), since in a sentence they are usually something else
    (``"foi uma ótima experiência"``).
    """
    words_of = score_words(texts)
    text = normalise(text[:PARSE_LIMIT])
    signs = symbols(text)
    folded = fold(text)
    if words_of.decline.matches(folded, "" if folded else signs):
        return "decline"
    if _DECIMAL.search(text):
        return "decimal"
    if _NEGATIVE.search(text):
        return "out_of_range"
    if any(int(over) != scale_max for _, over in _FRACTION.findall(text[:200])):
        return "other_scale"  # "5/5", "100/100" on 0–10; "9/10" on 1–5
    words = _words(text, scale_min, scale_max, words_of)
    starred = words_of.stars.matches("", signs) or any(w in words_of.stars.phrases for w in words)
    if starred:
        if (scale_min, scale_max) != STAR_SCALE:
            return "other_scale"
        words = [word for word in words if word not in words_of.stars.phrases]
        if not words:  # "⭐⭐⭐⭐"
            stars = sum(signs.count(sign) for sign in words_of.stars.signs)
            return stars if scale_min <= stars <= scale_max else "out_of_range"
    plain = not any(_digits(w) or w in words_of.numbers for w in words)
    if plain and (
        words_of.maximum.matches(" ".join(words), signs) or folded in words_of.maximum.phrases
    ):
        return scale_max  # "nota máxima", "nota mil", "💯"
    if words_of.not_a_score & set(words) or any(_MIXED.fullmatch(word) for word in words):
        return None  # "10 reais", "dez mil", "nove e meio", "1O": not a plain score
    numbers = [int(word) for word in words if _digits(word)]
    if not numbers and len(words) <= 2:
        numbers = [words_of.numbers[word] for word in words if word in words_of.numbers]
        if len(numbers) > 1 and words[0] in ("um", "uma"):
            numbers = numbers[1:]  # "um dez": here "um" is the article
    distinct = set(numbers)
    if not distinct:
        return "approval" if words_of.approval.matches(" ".join(words), signs) else None
    if len(distinct) > 1:
        return "ambiguous"
    (value,) = distinct
    return value if scale_min <= value <= scale_max else "out_of_range"


def _digits(word: str) -> bool:
    """Whether ``word`` is a run of ASCII digits (other scripts' were made ASCII)."""
    return word.isascii() and word.isdigit()


def _words(text: str, scale_min: int, scale_max: int, words: ScoreWords) -> list[str]:
    """The folded words of ``text`` without the scale itself (``9/10``, ``9 de 10``,
    ``de 0 a 10``) and without ``words.score_fillers`` (``nota``, ``dou``, ``minha``)."""
    folded = fold(re.sub(rf"(\d)\s*/\s*{scale_max}\b", r"\1", text))
    folded = re.sub(rf"\b(de )?(0|1|{scale_min}) (a|ate) {scale_max}\b", " ", folded)
    folded = re.sub(rf"\b(de|em) {scale_max}$", " ", folded)
    return [word for word in folded.split() if word not in words.fillers]


@hookimpl(trylast=True)
def score_rating(text: str, scale_min: int, scale_max: int, texts: Texts) -> int | str | None:
    result = read_score(text, scale_min, scale_max, texts)
    if result is None or isinstance(result, int) or result == "decline":
        return result
    return "refuse:" + texts(f"rating_{result}", min=scale_min, max=scale_max)
