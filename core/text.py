"""Helpers to compare what people type: case, accents, punctuation and invisible marks."""

from __future__ import annotations

import re
import unicodedata

#: Longest text any parser looks at; the whole message is still stored.
PARSE_LIMIT = 2000

_INVISIBLE = dict.fromkeys(
    cp for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E, 0x200E, 0x200F)
)
_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def strip_invisible(text: str) -> str:
    """Remove zero-width and other invisible characters and control characters."""
    text = text[:PARSE_LIMIT].translate(_INVISIBLE)
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free, single-spaced: for keyword matching."""
    text = unicodedata.normalize("NFKD", strip_invisible(text).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return fold(text).split()


def contains_keyword(folded: str, keyword: str) -> bool:
    """Whether the folded ``keyword`` (one or more words) occurs in ``folded`` as whole words."""
    key = fold(keyword)
    return bool(key) and f" {key} " in f" {folded} "
