"""Read a message once: :func:`read` gives the value every step and every hook uses.

The raw text from a channel is normalised (:func:`civic.text.normalise`: invisible
characters removed, control characters made spaces, lone surrogates made U+FFFD, digits
of any script made ASCII), cut to :data:`STORE_LIMIT` characters, folded for keyword
matching, and searched once for CPF-looking numbers, which ``redacted`` masks. Linear
time in the length of the message: a megabyte of digits is read as fast as a word.
"""

from __future__ import annotations

import re

import attrs

from civic import cpf
from civic.cpf import CpfCandidate, CpfProblem
from civic.text import PARSE_LIMIT, fold, normalise

#: Longest text kept of a message (stored, echoed, searched); the rest is dropped.
STORE_LIMIT = 16_000
_MARGIN = 64  # longer than any way of typing a CPF
_NUMBERS = re.compile(r"[0-9]+")

__all__ = ["PARSE_LIMIT", "STORE_LIMIT", "CpfCandidate", "CpfProblem", "Reading", "read"]


@attrs.frozen
class Reading:
    """A message as civic reads it. Only ``redacted`` and ``truncated`` show in its repr.

    :param text: the normalised message, at most :data:`STORE_LIMIT` characters.
    :param truncated: whether the message was longer and its end was dropped.
    :param folded: the first :data:`PARSE_LIMIT` characters of ``text``, lower-case,
        accent-free, punctuation-free, single-spaced (:func:`civic.text.fold`).
    :param words: the words of ``folded``.
    :param numbers: every run of digits in the first :data:`PARSE_LIMIT` characters of
        ``text``, as an integer (``"nota 9/10"`` gives ``(9, 10)``).
    :param cpfs: every CPF-looking number in ``text``, valid or not, with its span there.
    :param redacted: ``text`` with each of ``cpfs`` masked: what is stored and echoed.
    """

    text: str = attrs.field(repr=False)
    truncated: bool
    folded: str = attrs.field(repr=False)
    words: tuple[str, ...] = attrs.field(repr=False)
    numbers: tuple[int, ...] = attrs.field(repr=False)
    cpfs: tuple[CpfCandidate, ...] = attrs.field(repr=False)
    redacted: str

    @property
    def cpf(self) -> str | None:
        """The digits of the first valid CPF, if any."""
        found = cpf.first_valid(self.cpfs)
        return None if found is None else found.digits

    @property
    def cpf_problem(self) -> CpfProblem | None:
        """``None`` when a valid CPF was found; else what to tell the citizen (wrong check
        digits or repeated digits before a wrong length; ``missing`` when nothing looked
        like a CPF)."""
        return cpf.best_problem(self.cpfs)


def read(raw: str) -> Reading:
    """Read ``raw`` once. Never raises on any ``str``; linear time."""
    text = normalise(raw)
    truncated = len(text) > STORE_LIMIT
    if truncated:
        text = text[: _cut(text)]
    found = cpf.candidates(text)
    parsed = text[:PARSE_LIMIT]
    folded = fold(parsed)
    return Reading(
        text=text,
        truncated=truncated,
        folded=folded,
        words=tuple(folded.split()),
        numbers=tuple(int(run) for run in _NUMBERS.findall(parsed)),
        cpfs=found,
        redacted=cpf.redact(text, found),
    )


def _cut(text: str) -> int:
    """Where to cut ``text`` to keep at most :data:`STORE_LIMIT` characters: before any
    CPF-looking number the limit would cut in two (half a CPF would escape the mask)."""
    for candidate in cpf.candidates(text[: STORE_LIMIT + _MARGIN]):
        start, end = candidate.span
        if start < STORE_LIMIT < end:
            return start
    return STORE_LIMIT
