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


def remove_zero_width(text: str) -> str:
    """Remove only the zero-width and invisible formatting characters."""
    return text.translate(_INVISIBLE)


def strip_invisible(text: str) -> str:
    """Remove zero-width and other invisible characters; control characters become spaces.

    The whole text is kept (no length limit): answers are stored from it.
    """
    text = text.translate(_INVISIBLE)
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free, single-spaced: for keyword matching.

    Only the first :data:`PARSE_LIMIT` characters are looked at.
    """
    text = unicodedata.normalize("NFKD", strip_invisible(text[:PARSE_LIMIT]).casefold())
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
