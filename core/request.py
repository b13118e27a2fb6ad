"""The citizen's request in their own words, kept until a department can act on it.

What a citizen writes first is not lost: the rest of the identification message once
the name and the CPF are taken out (:func:`leftover`) is routed like any message, and a
description typed before a form starts pre-fills the form (:func:`form_answers`).

A form declares what can be pre-filled, in its JSON:

- a free-text field marked ``"x-civic-prefill": "description"`` takes the citizen's
  words, when they describe something (:func:`describes`) rather than only name the kind
  of request ("quero fazer uma reclamação");
- a choice whose options list ``"x-civic-keywords"`` is answered when the words name
  exactly one option ("buraco na rua": *Buraco ou pavimentação*).

The form then asks only what is missing and tells what it noted (see
:meth:`civic.forms.FormRunner.start`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from civic import cpf
from civic.reading import Reading
from civic.text import contains_keyword, fold

#: Longest request kept in a conversation's context (a description's ``maxLength``).
REQUEST_LIMIT = 4000
#: Words, besides the request fillers, a text needs to describe something.
DESCRIPTION_WORDS = 4

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
#: Identification fillers that may also begin a request ("a loja não entregou", "meu
#: filho", "no bairro ..."): kept after the name and CPF, dropped only before them.
_MAY_BEGIN_A_REQUEST = frozenset(
    {"a", "o", "eu", "me", "meu", "meus", "minha", "no", "do", "da", "de"}
)
#: Punctuation that ends a sentence, kept after its last word.
_END = re.compile(r"[.!?…]+")


def leftover(reading: Reading, name: str, digits: str, fillers: frozenset[str]) -> str:
    """What the identification message says besides the name and the CPF.

    The CPF ``digits`` (wherever typed) and the first occurrence of ``name`` (case and
    the spacing between its words aside) are cut out; the ``fillers`` around them ("meu
    nome é", "CPF:", "oi, bom dia") are dropped. ``"Maria da Silva 529.982.247-25 quero
    reclamar da loja"`` leaves ``"quero reclamar da loja"``; a plain greeting leaves
    ``""``. Another CPF-looking number stays: :func:`kept` masks it. Linear in the
    length of the message.
    """
    text = reading.text
    holes = [candidate.span for candidate in reading.cpfs if candidate.digits == digits]
    found = _name_span(text, name, holes)
    if found is not None:
        holes.append(found)
    pieces, start = [], 0
    for low, high in sorted(holes):
        if low >= start:
            pieces.append(text[start:low])
        start = max(start, high)
    pieces.append(text[start:])
    kept = [_trim(piece, fillers, last=i == len(pieces) - 1) for i, piece in enumerate(pieces)]
    return " ".join(piece for piece in kept if piece)


def _name_span(text: str, name: str, holes: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """Where ``name`` is typed in ``text``, outside the ``holes``; ``None`` if nowhere."""
    words = _WORD.findall(name)
    if not words:
        return None
    pattern = re.compile(
        r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])", re.IGNORECASE
    )
    for match in pattern.finditer(text):
        if not any(low < match.end() and match.start() < high for low, high in holes):
            return match.span()
    return None


def _trim(piece: str, fillers: frozenset[str], *, last: bool) -> str:
    """``piece`` without the fillers at its ends (fewer at its start: see
    :data:`_MAY_BEGIN_A_REQUEST`), nor the spaces and punctuation around them."""
    words = list(_WORD.finditer(piece))
    folded = [fold(word.group()) for word in words]
    leading = fillers - _MAY_BEGIN_A_REQUEST
    first = 0
    while first < len(words) and folded[first] in leading:
        first += 1
    end = len(words)
    while end > first and folded[end - 1] in fillers:
        end -= 1
    if first >= end:
        return ""
    stop = words[end - 1].end()
    if last and end == len(words) and (tail := _END.match(piece, stop)):
        stop = tail.end()
    return piece[words[first].start() : stop].strip()


def kept(text: str) -> str:
    """``text`` as a conversation keeps it: CPF-looking numbers masked, cut to
    :data:`REQUEST_LIMIT` characters."""
    return cpf.redact(text.strip())[:REQUEST_LIMIT]


def describes(text: str, fillers: frozenset[str]) -> bool:
    """Whether ``text`` describes something: at least :data:`DESCRIPTION_WORDS` words
    that are not request ``fillers``. "a loja não entregou minha geladeira" does;
    "quero fazer uma reclamação", "1" and "reclamar da loja X" do not."""
    words = fold(text).split()
    return sum(word not in fillers for word in words) >= DESCRIPTION_WORDS


def form_answers(
    schema: Mapping[str, Any], parts: Iterable[str], fillers: frozenset[str]
) -> dict[str, Any]:
    """The answers a form's declarations infer from the citizen's ``parts`` (the kept
    request, then the message that started the form), by field name.

    A field marked ``"x-civic-prefill": "description"`` gets the parts that describe
    something (:func:`describes`), one a line; a choice gets the one option whose
    ``x-civic-keywords`` occur in the parts (none when several options do). The form
    validates each answer before keeping it.
    """
    parts = list(dict.fromkeys(part.strip() for part in parts if part and part.strip()))
    told = [part for part in parts if describes(part, fillers)]
    folded = " ".join(fold(part) for part in parts)
    answers: dict[str, Any] = {}
    for name, field in (schema.get("properties") or {}).items():
        if not isinstance(field, Mapping):
            continue
        if field.get("x-civic-prefill") == "description":
            if told:
                answers[name] = "\n".join(told)
            continue
        options = [
            option["const"]
            for option in field.get("oneOf") or ()
            if isinstance(option, Mapping)
            and "const" in option
            and any(
                contains_keyword(folded, str(word)) for word in option.get("x-civic-keywords", ())
            )
        ]
        if len(options) == 1:
            answers[name] = options[0]
    return answers
