"""Helpers to compare what people type: case, accents, punctuation and invisible marks."""

from __future__ import annotations

import functools
import re
import unicodedata

#: Longest text any parser looks at; the whole message is still stored.
PARSE_LIMIT = 2000

#: Invisible formatting characters (Unicode category Cf), as ranges. Zero-width spaces
#: and joiners, soft hyphen, word joiner, byte-order mark, direction marks and overrides,
#: interlinear annotation marks, emoji tags. Covers Unicode 15.1; a test checks that
#: every Cf character known to the running Python is here.
FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip

#: The same characters as the inside of a regular-expression class.
FORMAT_CLASS = "".join(
    re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
    for low, high in FORMAT_RANGES
)

_CACHE_LIMIT = 100_000  # distinct characters remembered by the table (bounds its memory)


class _Table(dict[int, int | str | None]):
    """``str.translate`` table of :func:`normalise`, filled as characters are met.

    Known at start: formatting characters (removed), control characters (a space, but
    ``\\n`` and ``\\t`` stay), surrogates (U+FFFD). Met later: digits of any script (their
    ASCII digit); every other character maps to itself.
    """

    def __init__(self) -> None:
        super().__init__()
        for low, high in FORMAT_RANGES:
            self.update(dict.fromkeys(range(low, high + 1)))
        self.update(dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " "))
        self.update({ord("\n"): ord("\n"), ord("\t"): ord("\t")})
        self.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))

    def __missing__(self, code: int) -> int | str:
        digit = unicodedata.decimal(chr(code), None)
        value: int | str = code if digit is None or code < 0x80 else str(digit)
        if len(self) < _CACHE_LIMIT:
            self[code] = value
        return value


class _Unaccent(dict[int, int | None]):
    """``str.translate`` table removing combining marks (accents once decomposed)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        if len(self) < _CACHE_LIMIT:
            self[code] = value
        return value


_TABLE = _Table()
_UNACCENT = _Unaccent()
_ASCII_TABLE = {code: _TABLE[code] for code in range(0x80)}
_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` as civic reads and stores it; linear, and nothing else changes.

    - formatting characters (zero-width spaces and joiners, soft hyphen, BOM, direction
      marks and overrides, emoji tags: category Cf) are removed, so they cannot hide a
      number nor reorder what staff read (an emoji joined by U+200D shows as its parts);
    - control characters become spaces, except ``\\n`` and ``\\t``; NUL too;
    - lone surrogates (``json.loads('"\\\\ud8da"')``) become U+FFFD, so any database
      driver accepts the text;
    - digits of any script (fullwidth ``５``, Arabic-Indic ``٥``, ...) become ASCII digits.

    No NFKC: it would also turn ``º`` into ``o``, ``²`` into ``2`` and ``½`` into ``1⁄2`` in
    the citizen's own words. Only decimal digits (category Nd) are converted.
    Idempotent: ``normalise(normalise(t)) == normalise(t)``.
    """
    return text.translate(_ASCII_TABLE if text.isascii() else _TABLE)


#: The former name of :func:`normalise`, kept for its callers.
strip_invisible = normalise


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free, single-spaced: for keyword matching.

    Only the first :data:`PARSE_LIMIT` characters are looked at, after
    :func:`normalise` (so ``５`` folds to ``5``). Compatibility forms are unfolded here
    (``º`` becomes ``o``, ``½`` becomes ``1 2``): folded text is for matching only.
    Short texts (keywords, catalogue words, most messages) are folded once per process.
    """
    if len(text) <= _CACHED_FOLD_LENGTH:
        return _fold_short(text)
    return _fold(text)


#: Texts up to this length are remembered by :func:`fold` (at most 8,192 of them).
_CACHED_FOLD_LENGTH = 160


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", normalise(text[:PARSE_LIMIT]).casefold())
    if not text.isascii():
        text = text.translate(_UNACCENT)
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


_fold_short = functools.lru_cache(maxsize=8192)(_fold)


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return fold(text).split()


def contains_keyword(folded: str, keyword: str) -> bool:
    """Whether the folded ``keyword`` (one or more words) occurs in ``folded`` as whole words."""
    key = fold(keyword)
    return bool(key) and f" {key} " in f" {folded} "


#: Words that make a message a request or a greeting rather than a person's name.
REQUEST_WORDS = frozenset(
    {
        "quero", "queria", "preciso", "gostaria", "falar", "como", "onde", "qual", "quando",
        "porque", "ajuda", "informacao", "sim", "nao", "obrigado", "obrigada", "oi", "ola",
        "bom", "boa", "dia", "tarde", "noite", "tudo", "bem", "menu", "reclamar", "reclamacao",
        "pedir", "saber", "fazer", "status", "protocolo", "tel", "telefone", "celular",
        "whatsapp", "email", "endereco", "rua", "loja", "atendente",
    }
)  # fmt: skip
