"""What a protocol number may look like, and how a citizen's message finds one.

A plugin shapes protocol numbers (the ``protocol_number`` hook): ``PROCON-2026-000123``,
``OUV/2026/7``, ``2026.0007-OUV``. Whatever the shape, a number is stored with its
:func:`key`: its letters and digits only, lower-case (``ouv20267``). A citizen asking
"situação do protocolo ouv 2026 7?" is looked up by the keys of the runs of words in
the message (:func:`candidates`), in one query on the key's unique index: case, spaces,
dashes, slashes and dots do not matter, and no stored number is ever scanned.

Two numbers with the same key are the same number to a citizen, so the key is unique: a
plugin returning a number whose key is taken gets another sequence (see
:meth:`civic.turn.Turn.file_submission`).
"""

from __future__ import annotations

import re

from civic.text import fold

#: The longest protocol number (the column holds 64 characters).
MAX_LENGTH = 64
#: The fewest letters and digits a protocol number has (one of them a digit), so a menu
#: choice or a score is never taken for one.
MIN_KEY = 4
#: Most consecutive words a number may span in a message (``PROCON 2026 000123`` is 3).
MAX_WORDS = 8
#: Most keys one message is looked up by.
MAX_CANDIDATES = 200

#: Letters or digits, separated by runs of space, ``-``, ``/``, ``.`` or ``_``.
SHAPE = re.compile(r"[A-Za-z0-9]+(?:[ ./_-]+[A-Za-z0-9]+)*")
_ALNUM = re.compile(r"[a-z0-9]+")
_DIGIT = re.compile(r"[0-9]")


def key(number: str) -> str:
    """``number`` as it is compared: its letters and digits, lower-case, accents removed
    (``OUV/2026/7`` and ``ouv 2026-7`` are both ``ouv20267``)."""
    return "".join(_ALNUM.findall(fold(number)))


def problem(number: object) -> str | None:
    """Why ``number`` cannot be a protocol number (``None`` when it can).

    A protocol number is a ``str`` of at most :data:`MAX_LENGTH` characters: ASCII letters
    and digits, in runs separated by spaces, ``-``, ``/``, ``.`` or ``_``, with at least
    :data:`MIN_KEY` letters and digits of which one is a digit.
    """
    if not isinstance(number, str):
        return f"is a {type(number).__name__}, not a str"
    if len(number) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if not SHAPE.fullmatch(number):
        return "must be ASCII letters and digits separated by spaces, '-', '/', '.' or '_'"
    found = key(number)
    if len(found) < MIN_KEY or not _DIGIT.search(found):
        return f"needs at least {MIN_KEY} letters and digits, one of them a digit"
    return None


def candidates(folded: str) -> list[str]:
    """The keys a message (already folded) may be asking about: every run of up to
    :data:`MAX_WORDS` consecutive words that holds a digit and makes a key of
    :data:`MIN_KEY` to :data:`MAX_LENGTH` characters; at most :data:`MAX_CANDIDATES`,
    in the message's order."""
    words = _ALNUM.findall(folded)
    found: dict[str, None] = {}
    for start in range(len(words)):
        joined = ""
        for word in words[start : start + MAX_WORDS]:
            joined += word
            if len(joined) > MAX_LENGTH:
                break
            if len(joined) >= MIN_KEY and _DIGIT.search(joined):
                found.setdefault(joined)
                if len(found) >= MAX_CANDIDATES:
                    return list(found)
    return list(found)
